//! A TCP proxy on loopback that tests can break on purpose.
//!
//! [`ChaosProxy`] listens on `127.0.0.1:<port>` and forwards each accepted connection to a
//! target (a broker) over its own upstream connection. The test controls it:
//! - [`cut_all`](ChaosProxy::cut_all) closes every proxied connection at once (both sides);
//! - [`stall`](ChaosProxy::stall) stops forwarding bytes in both directions while on (the
//!   connections stay open, so requests go unanswered until the client's request timeout),
//!   and resumes forwarding, bytes held included, when turned off;
//! - [`accepted`](ChaosProxy::accepted) counts the connections accepted so far (a client that
//!   reconnects shows up there), [`open`](ChaosProxy::open) those still open.
//!
//! A broker behind the proxy must advertise the proxy's address, so clients that follow
//! Metadata come back through it: bind the proxy first ([`ChaosProxy::bind`]), start the
//! broker advertising [`port`](ChaosProxy::port), then [`set_target`](ChaosProxy::set_target).
//! [`ChaosProxy::in_front_of_tansu`] does the three steps.
//!
//! Threads, not async: the proxy works under any test runtime. One thread accepts; each
//! connection gets one thread per direction. Everything stops when the proxy is dropped.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::Duration;

use crate::tansu::{StartError, Tansu};

/// How often idle threads look at the controls.
const POLL: Duration = Duration::from_millis(10);

/// One proxied connection: the client side and the broker side.
#[derive(Debug)]
struct Link {
    id: usize,
    client: TcpStream,
    upstream: TcpStream,
}

impl Link {
    fn close(&self) {
        let _ = self.client.shutdown(Shutdown::Both);
        let _ = self.upstream.shutdown(Shutdown::Both);
    }
}

#[derive(Debug, Default)]
struct Shared {
    target: Mutex<Option<SocketAddr>>,
    links: Mutex<Vec<Link>>,
    stalled: AtomicBool,
    stopped: AtomicBool,
    accepted: AtomicUsize,
}

impl Shared {
    fn links(&self) -> MutexGuard<'_, Vec<Link>> {
        self.links.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn target(&self) -> Option<SocketAddr> {
        *self.target.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A TCP proxy with controls for breaking connections. Stops (closing every connection) on
/// drop.
#[derive(Debug)]
pub struct ChaosProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<thread::JoinHandle<()>>,
}

impl ChaosProxy {
    /// Listens on a free loopback port. Connections accepted before
    /// [`set_target`](Self::set_target) are closed at once.
    pub fn bind() -> std::io::Result<ChaosProxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let acceptor = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name("chaos-proxy-accept".into())
                .spawn(move || accept_loop(&listener, &shared))?
        };
        Ok(ChaosProxy {
            addr,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// A proxy in front of a fresh tansu that advertises the proxy's address.
    pub fn in_front_of_tansu() -> Result<(ChaosProxy, Tansu), StartError> {
        let proxy = ChaosProxy::bind()?;
        let tansu = Tansu::start_with_advertised("127.0.0.1", proxy.port())?;
        proxy.set_target(tansu.addr());
        Ok((proxy, tansu))
    }

    /// Forwards new connections to `target`.
    pub fn set_target(&self, target: SocketAddr) {
        *self.shared.target.lock().unwrap_or_else(|p| p.into_inner()) = Some(target);
    }

    /// The address clients connect to.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The bootstrap string for clients (`127.0.0.1:port`).
    pub fn bootstrap(&self) -> String {
        self.addr.to_string()
    }

    /// Closes every proxied connection now (both the client's and the broker's side). New
    /// connections are accepted as before.
    pub fn cut_all(&self) {
        let links = std::mem::take(&mut *self.shared.links());
        for link in &links {
            link.close();
        }
    }

    /// Stops (`true`) or resumes (`false`) forwarding bytes on every connection, new ones
    /// included. Connections stay open while stalled.
    pub fn stall(&self, stalled: bool) {
        self.shared.stalled.store(stalled, Ordering::SeqCst);
    }

    /// How many connections the proxy has accepted.
    pub fn accepted(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// How many proxied connections are open.
    pub fn open(&self) -> usize {
        self.shared.links().len()
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.cut_all();
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    let mut next_id = 0usize;
    while !shared.stopped.load(Ordering::SeqCst) {
        let client = match listener.accept() {
            Ok((client, _)) => client,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                thread::sleep(POLL);
                continue;
            }
            Err(_) => {
                thread::sleep(POLL);
                continue;
            }
        };
        shared.accepted.fetch_add(1, Ordering::SeqCst);
        next_id += 1;
        // On failure (no target, broker down) the client's socket is dropped: it sees its
        // connection closed, as when a broker is down.
        let _ = start_link(next_id, client, shared);
    }
}

/// Connects upstream and starts the two forwarding threads of one connection.
fn start_link(id: usize, client: TcpStream, shared: &Arc<Shared>) -> std::io::Result<()> {
    let target = shared
        .target()
        .ok_or_else(|| std::io::Error::new(ErrorKind::NotConnected, "no target yet"))?;
    client.set_nonblocking(false)?;
    let upstream = TcpStream::connect_timeout(&target, Duration::from_secs(5))?;
    for s in [&client, &upstream] {
        s.set_nodelay(true)?;
        s.set_read_timeout(Some(POLL))?;
    }
    let link = Link {
        id,
        client: client.try_clone()?,
        upstream: upstream.try_clone()?,
    };
    shared.links().push(link);
    let pairs = [
        (client.try_clone()?, upstream.try_clone()?),
        (upstream, client),
    ];
    for (from, to) in pairs {
        let shared = Arc::clone(shared);
        thread::Builder::new()
            .name(format!("chaos-proxy-{id}"))
            .spawn(move || {
                forward(from, to, &shared);
                // Either side ending ends the link.
                let mut links = shared.links();
                if let Some(at) = links.iter().position(|l| l.id == id) {
                    links.swap_remove(at).close();
                }
            })?;
    }
    Ok(())
}

/// Copies bytes from `from` to `to` until either side closes, holding them while stalled.
fn forward(mut from: TcpStream, mut to: TcpStream, shared: &Shared) {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if shared.stopped.load(Ordering::SeqCst) {
            return;
        }
        if shared.stalled.load(Ordering::SeqCst) {
            thread::sleep(POLL);
            continue;
        }
        let n = match from.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => n,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => continue,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(_) => return,
        };
        // Bytes read just before a stall are held until it ends.
        while shared.stalled.load(Ordering::SeqCst) && !shared.stopped.load(Ordering::SeqCst) {
            thread::sleep(POLL);
        }
        if to.write_all(&buf[..n]).is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on loopback: the proxy's target.
    fn echo_server() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 || stream.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn connect(proxy: &ChaosProxy) -> TcpStream {
        let s = TcpStream::connect(proxy.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    fn echo(s: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
        s.write_all(msg).unwrap();
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got).unwrap();
        got
    }

    #[test]
    fn forwards_and_counts_connections() {
        let proxy = ChaosProxy::bind().unwrap();
        proxy.set_target(echo_server());
        let mut a = connect(&proxy);
        assert_eq!(echo(&mut a, b"hello"), b"hello");
        let mut b = connect(&proxy);
        assert_eq!(echo(&mut b, b"again"), b"again");
        assert_eq!(proxy.accepted(), 2);
        assert_eq!(proxy.open(), 2);
    }

    #[test]
    fn cut_all_closes_open_connections_and_new_ones_work() {
        let proxy = ChaosProxy::bind().unwrap();
        proxy.set_target(echo_server());
        let mut a = connect(&proxy);
        assert_eq!(echo(&mut a, b"x"), b"x");
        proxy.cut_all();
        let mut buf = [0u8; 1];
        let read = a.read(&mut buf);
        assert!(
            matches!(read, Ok(0)) || read.is_err(),
            "the cut connection ends: {read:?}"
        );
        assert_eq!(proxy.open(), 0);
        let mut b = connect(&proxy);
        assert_eq!(echo(&mut b, b"y"), b"y");
    }

    #[test]
    fn stall_holds_bytes_until_released() {
        let proxy = ChaosProxy::bind().unwrap();
        proxy.set_target(echo_server());
        let mut a = connect(&proxy);
        assert_eq!(echo(&mut a, b"1"), b"1");
        proxy.stall(true);
        a.write_all(b"held").unwrap();
        a.set_read_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut buf = [0u8; 4];
        let stalled = a.read(&mut buf);
        assert!(
            matches!(&stalled, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
            "nothing comes back while stalled: {stalled:?}"
        );
        proxy.stall(false);
        a.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        a.read_exact(&mut buf).unwrap();
        assert_eq!(&buf, b"held");
    }

    #[test]
    fn without_a_target_connections_are_closed() {
        let proxy = ChaosProxy::bind().unwrap();
        let mut a = connect(&proxy);
        let mut buf = [0u8; 1];
        let read = a.read(&mut buf);
        assert!(matches!(read, Ok(0)) || read.is_err(), "{read:?}");
        assert_eq!(proxy.accepted(), 1);
    }
}
