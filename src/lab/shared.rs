//! The world behind a lock, with the clock that says how far it has got. Every server (AWS
//! endpoint, DNS, apps) reaches the world through [`Shared::world`], which first advances it to
//! the current modelled time. The lock is never held across an await.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use super::world::World;
use crate::clock::Clock;

#[derive(Debug)]
pub struct Shared {
    world: Mutex<World>,
    clock: Clock,
    /// The clock's elapsed modelled time when the lab started.
    origin: Duration,
}

impl Shared {
    pub fn new(world: World, clock: Clock, origin: Duration) -> Self {
        Shared {
            world: Mutex::new(world),
            clock,
            origin,
        }
    }

    /// Modelled time since the lab started.
    pub fn now(&self) -> Duration {
        self.clock.elapsed().saturating_sub(self.origin)
    }

    /// The world, advanced to now.
    pub fn world(&self) -> MutexGuard<'_, World> {
        let now = self.now();
        let mut world = self.world.lock().unwrap_or_else(PoisonError::into_inner);
        world.advance(now);
        world
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }
}
