//! Frames seen on the wire, for tests that check what a daemon sent
//! (gratuitous ARPs, VRRP adverts, what reached a backend).

/// Captures the Ethernet frames of `ethertype` that `keep` accepts, for
/// `how_long`, on every interface of the calling thread's namespace (an
/// AF_PACKET socket; run it inside a namespace with `NetNs::spawn`/`run`).
pub fn capture(
    ethertype: u16,
    how_long: std::time::Duration,
    keep: impl Fn(&[u8]) -> bool,
) -> Vec<Vec<u8>> {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    // SAFETY: plain socket(2); owned right below.
    let fd = unsafe {
        libc::socket(
            libc::AF_PACKET,
            libc::SOCK_RAW,
            i32::from(ethertype.to_be()),
        )
    };
    assert!(
        fd >= 0,
        "AF_PACKET socket: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a fresh fd we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    let tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 100_000,
    };
    // SAFETY: setting a timeval option on our socket.
    unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            std::ptr::addr_of!(tv).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    let end = std::time::Instant::now() + how_long;
    let mut frames = Vec::new();
    let mut buf = [0u8; 2048];
    while std::time::Instant::now() < end {
        // SAFETY: receiving into our buffer.
        let n = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n > 0 && keep(&buf[..n as usize]) {
            frames.push(buf[..n as usize].to_vec());
        }
    }
    frames
}

/// ARP frames seen for `how_long`.
pub fn capture_arp(how_long: std::time::Duration) -> Vec<Vec<u8>> {
    capture(0x0806, how_long, |_| true)
}

/// Frames carrying IPv4 protocol `proto` seen for `how_long`.
pub fn capture_ipv4_proto(proto: u8, how_long: std::time::Duration) -> Vec<Vec<u8>> {
    capture(0x0800, how_long, |f| f.len() > 34 && f[14 + 9] == proto)
}

/// Sends `frames` out of the calling thread's namespace's lab interface
/// as they are (an AF_PACKET socket: sources may be spoofed); run it
/// inside a namespace with `NetNs::spawn`/`run`. Returns how many the
/// kernel took: a full queue drops a frame, as a wire would.
pub fn send_frames(frames: impl IntoIterator<Item = Vec<u8>>) -> u64 {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let name = std::ffi::CString::new(super::HOST_IFACE).expect("no NUL");
    // SAFETY: a NUL-terminated name.
    let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert!(
        ifindex != 0,
        "no {} here: {}",
        super::HOST_IFACE,
        std::io::Error::last_os_error()
    );
    // SAFETY: plain socket(2); owned right below. Protocol 0: send only.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, 0) };
    assert!(
        fd >= 0,
        "AF_PACKET socket: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: a fresh fd we own.
    let sock = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: a zeroed sockaddr_ll is valid; the fields set are plain data.
    let mut to: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    to.sll_family = libc::AF_PACKET as u16;
    to.sll_ifindex = ifindex as i32;
    to.sll_halen = 6;
    let mut sent = 0;
    for f in frames {
        to.sll_addr[..6].copy_from_slice(&f[..6]);
        // SAFETY: sending our buffer to the address above.
        let n = unsafe {
            libc::sendto(
                sock.as_raw_fd(),
                f.as_ptr().cast(),
                f.len(),
                0,
                std::ptr::addr_of!(to).cast(),
                size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n == f.len() as isize {
            sent += 1;
        }
    }
    sent
}
