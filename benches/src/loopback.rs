//! The machine's loopback TCP limit: one thread writes 1 MiB buffers into a loopback socket,
//! another reads them, for a fixed volume. The 64 KiB goal is stated against this figure.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Instant;

use crate::{BenchError, Result};

/// Bytes per second through one loopback TCP connection, moving `total` bytes.
pub fn loopback_bytes_per_sec(total: usize) -> Result<f64> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let writer = std::thread::spawn(move || -> std::io::Result<()> {
        let mut s = TcpStream::connect(addr)?;
        let buf = vec![7u8; 1 << 20];
        let mut left = total;
        while left > 0 {
            let n = left.min(buf.len());
            s.write_all(&buf[..n])?;
            left -= n;
        }
        Ok(())
    });
    let (mut sock, _) = listener.accept()?;
    let start = Instant::now();
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0usize;
    while got < total {
        let n = sock.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got += n;
    }
    let secs = start.elapsed().as_secs_f64();
    writer
        .join()
        .map_err(|_| BenchError::Other("loopback writer panicked".into()))??;
    if got < total {
        return Err(BenchError::Other(format!(
            "loopback moved {got} of {total}"
        )));
    }
    Ok(total as f64 / secs.max(1e-9))
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_moves_bytes() {
        assert!(super::loopback_bytes_per_sec(8 << 20).unwrap() > 0.0);
    }
}
