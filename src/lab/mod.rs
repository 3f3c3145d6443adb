//! The lab: a simulated two-region AWS world on loopback.
