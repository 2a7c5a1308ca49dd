//! A TCP proxy that cuts each connection after a byte budget from the client: the bytes up
//! to the budget reach the broker (the last request possibly cut in half), then both
//! directions close, losing the answers to requests the broker may already have carried out.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// A bound proxy port, not forwarding yet (the broker behind it is started knowing the port).
pub struct ProxyListener(TcpListener);

impl ProxyListener {
    /// Binds a free port on 127.0.0.1.
    pub async fn bind() -> Self {
        Self(TcpListener::bind("127.0.0.1:0").await.unwrap())
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.0.local_addr().unwrap().port()
    }

    /// Starts forwarding to `upstream`. `budget(n)` is the client-to-broker byte budget of the
    /// `n`-th connection (0-based), `None` for no cut.
    pub fn start(
        self,
        upstream: SocketAddr,
        budget: impl Fn(usize) -> Option<usize> + Send + 'static,
    ) -> Proxy {
        let cuts = Arc::new(AtomicUsize::new(0));
        let accepted = Arc::new(AtomicUsize::new(0));
        let listener = self.0;
        let task = {
            let (cuts, accepted) = (cuts.clone(), accepted.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        return;
                    };
                    let n = accepted.fetch_add(1, Ordering::Relaxed);
                    tokio::spawn(serve(client, upstream, budget(n), cuts.clone()));
                }
            })
        };
        Proxy {
            cuts,
            accepted,
            task,
        }
    }
}

/// A running proxy; stops accepting when dropped.
pub struct Proxy {
    cuts: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Proxy {
    /// Connections cut so far.
    pub fn cuts(&self) -> usize {
        self.cuts.load(Ordering::Relaxed)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    client: TcpStream,
    upstream: SocketAddr,
    budget: Option<usize>,
    cuts: Arc<AtomicUsize>,
) {
    let Ok(server) = TcpStream::connect(upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let up = async {
        let mut left = budget;
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = client_read.read(&mut buf).await?;
            if n == 0 {
                return Ok::<bool, std::io::Error>(false);
            }
            let take = left.map_or(n, |l| n.min(l));
            server_write.write_all(&buf[..take]).await?;
            if let Some(l) = left.as_mut() {
                *l -= take;
                if *l == 0 {
                    return Ok(true);
                }
            }
        }
    };
    let down = tokio::io::copy(&mut server_read, &mut client_write);
    tokio::select! {
        cut = up => if matches!(cut, Ok(true)) {
            cuts.fetch_add(1, Ordering::Relaxed);
        },
        _ = down => {}
    }
    // Dropping the halves closes both sockets.
}
