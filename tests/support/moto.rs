//! A private moto server on loopback for one test: started on a free port, killed on drop.

use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// How long moto gets to start answering.
const STARTUP: Duration = Duration::from_secs(30);
/// Ports can be taken between probing and binding; try a few.
const PORT_ATTEMPTS: usize = 5;

pub struct Moto {
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    child: Child,
}

impl Moto {
    /// Starts `moto_server` on 127.0.0.1 and waits until it answers HTTP.
    pub fn start() -> Moto {
        let mut last_failure = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let mut child = match Command::new("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
            {
                Ok(child) => child,
                Err(e) if e.kind() == ErrorKind::NotFound => panic!(
                    "moto_server is not on PATH; these tests need it: pip install 'moto[server]'"
                ),
                Err(e) => panic!("could not start moto_server: {e}"),
            };
            match wait_until_answering(&mut child, port) {
                Ok(()) => {
                    return Moto {
                        endpoint: format!("http://127.0.0.1:{port}"),
                        child,
                    };
                }
                Err(failure) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_failure = failure;
                }
            }
        }
        panic!("moto_server did not come up after {PORT_ATTEMPTS} attempts: {last_failure}");
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a loopback port");
    listener.local_addr().expect("local address").port()
}

fn wait_until_answering(child: &mut Child, port: u16) -> Result<(), String> {
    let deadline = Instant::now() + STARTUP;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("moto_server on port {port} exited with {status}"));
        }
        if answers_http(port) {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(100));
    }
    Err(format!(
        "moto_server on port {port} did not answer within {STARTUP:?}"
    ))
}

/// True once the port speaks HTTP (moto's own API answers `GET /moto-api/`).
fn answers_http(port: u16) -> bool {
    let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /moto-api/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.")
}
