//! The syslog UDP listener's receiving: `collectors/syslog/server.py` `SyslogListener._serve_udp`, many datagrams per
//! call with the GIL released.
//!
//! In Python each datagram took the GIL back (one `recvfrom` each), so the receiving thread and the drain contended
//! for it on every message and the socket buffer overflowed under load. Here a call waits for one datagram, then
//! takes what else the socket holds without waiting, up to a bound, each with its own receive time.

use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::{BorrowedFd, RawFd};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The largest datagram (a UDP payload fits 65,507 bytes over IPv4, 65,527 over IPv6).
const DATAGRAM_MAX: usize = 65536;

pub struct Datagram {
    pub data: Vec<u8>,
    pub peer: SocketAddr,
    pub recv_ns: i64,
    /// Cut at `max_bytes`.
    pub truncated: bool,
}

pub struct UdpReceiver {
    sock: UdpSocket,
    max_bytes: usize,
    buf: Vec<u8>,
}

fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

impl UdpReceiver {
    /// Receive on a duplicate of the bound socket `fd` (the listener keeps its own: closing it does not pull this
    /// one from under a call in progress). `wait` bounds how long a call waits for its first datagram.
    pub fn new(fd: RawFd, max_bytes: usize, wait: Duration) -> io::Result<Self> {
        // SAFETY: the caller passes the descriptor of a socket it holds open for the duration of this call.
        let owned = unsafe { BorrowedFd::borrow_raw(fd) }.try_clone_to_owned()?;
        let sock = UdpSocket::from(owned);
        sock.set_nonblocking(false)?;
        sock.set_read_timeout(Some(wait))?;
        Ok(Self { sock, max_bytes, buf: vec![0; DATAGRAM_MAX] })
    }

    fn take(&mut self, n: usize, peer: SocketAddr) -> Datagram {
        let cut = n > self.max_bytes;
        let data = self.buf[..n.min(self.max_bytes)].to_vec();
        Datagram { data, peer, recv_ns: now_ns(), truncated: cut }
    }

    /// Up to `max` datagrams: the first waited for (none if it does not come in time), the others only if already
    /// there.
    pub fn recv(&mut self, max: usize) -> io::Result<Vec<Datagram>> {
        let mut out = Vec::new();
        match self.sock.recv_from(&mut self.buf) {
            Ok((n, peer)) => out.push(self.take(n, peer)),
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                                         | io::ErrorKind::Interrupted) => return Ok(out),
            Err(e) => return Err(e),
        }
        self.sock.set_nonblocking(true)?;
        let result = (|| {
            while out.len() < max {
                match self.sock.recv_from(&mut self.buf) {
                    Ok((n, peer)) => out.push(self.take(n, peer)),
                    Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => break,
                    Err(e) => return Err(e),
                }
            }
            Ok(())
        })();
        self.sock.set_nonblocking(false)?;
        result.map(|()| out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn a_call_takes_what_is_there_and_cuts_long_datagrams() {
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut rx = UdpReceiver::new(server.as_raw_fd(), 480, Duration::from_millis(200)).unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").unwrap();
        for m in [b"<13>one".as_slice(), &[b'x'; 1000], b"<13>three"] {
            client.send_to(m, server.local_addr().unwrap()).unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
        let got = rx.recv(10).unwrap();
        assert_eq!(got.iter().map(|d| (d.data.len(), d.truncated)).collect::<Vec<_>>(),
                   vec![(7, false), (480, true), (9, false)]);
        assert!(got.iter().all(|d| d.peer == client.local_addr().unwrap() && d.recv_ns > 0));
        assert!(rx.recv(10).unwrap().is_empty()); // nothing came: back after the wait
    }
}
