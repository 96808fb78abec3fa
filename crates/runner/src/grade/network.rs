//! A private network per submission: its server, and the grader's client
//! that plays the suite against it, share a network namespace of their own
//! with nothing in it but a loopback interface. One submission cannot
//! connect to another's port, nor to the grader's machine, nor out.
//!
//! Why per *thread*: Linux keeps network namespaces per thread, and a
//! socket belongs to the namespace of the thread that created it. So each
//! submission is graded on a thread of its own that first moves itself
//! into a new namespace; the server it starts (fork inherits the thread's
//! namespace) and every socket of its single-threaded runtime live there.
//! The grader's other threads stay where they were.
//!
//! Creating a namespace needs `CAP_SYS_ADMIN`. As root the grader has it;
//! as another user it first enters a user namespace of its own (where it
//! holds every capability, over nothing but itself), which Linux allows
//! only while the process has a single thread: [`prepare`] is called
//! before any runtime starts. Where neither works (a container whose
//! seccomp profile forbids `unshare`), `--network auto` falls back to the
//! shared loopback and the gradebook says so; `--network private` refuses
//! to start.

use std::io;

use nix::sched::{CloneFlags, unshare};

/// Where submissions' servers are reachable from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetworkMode {
    /// Private when the machine allows it, shared otherwise (said in the record).
    Auto,
    /// Every submission in a network namespace of its own; refuse to run without.
    Private,
    /// Every server on the grader's loopback.
    Shared,
}

impl NetworkMode {
    /// Parses `auto`, `private` or `shared`.
    pub fn parse(text: &str) -> Result<NetworkMode, String> {
        match text {
            "auto" => Ok(NetworkMode::Auto),
            "private" => Ok(NetworkMode::Private),
            "shared" => Ok(NetworkMode::Shared),
            other => Err(format!(
                "--network takes auto, private or shared, not '{other}'"
            )),
        }
    }
}

/// What a run ended up with: private networks, or shared with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// A network namespace per submission.
    Private,
    /// The grader's loopback, shared by every server; why, when not asked for.
    Shared(Option<String>),
}

impl Network {
    /// Whether each submission gets its own namespace.
    pub fn is_private(&self) -> bool {
        matches!(self, Network::Private)
    }

    /// The network part of the isolation statement recorded in a gradebook.
    pub fn describe(&self) -> String {
        match self {
            Network::Private => {
                "network: a namespace per submission (loopback only: no other submission, no host, no internet)".to_string()
            }
            Network::Shared(None) => {
                "network: NOT isolated (--network shared: servers share the grader's loopback)"
                    .to_string()
            }
            Network::Shared(Some(why)) => format!(
                "network: NOT isolated (servers share the grader's loopback: {why})"
            ),
        }
    }
}

/// Decides the network of a run, entering a user namespace when needed.
/// Call while the process has one thread (before any runtime starts).
pub fn prepare(mode: NetworkMode) -> Result<Network, String> {
    if mode == NetworkMode::Shared {
        return Ok(Network::Shared(None));
    }
    let ready = gain_namespace_rights().and_then(|()| probe());
    match (ready, mode) {
        (Ok(()), _) => Ok(Network::Private),
        (Err(why), NetworkMode::Private) => Err(format!(
            "--network private: cannot create a network namespace here ({why}); \
             run as root, allow unprivileged user namespaces \
             (sysctl kernel.unprivileged_userns_clone=1), or use --network shared"
        )),
        (Err(why), _) => Ok(Network::Shared(Some(format!(
            "no network namespace could be created: {why}"
        )))),
    }
}

/// As root, nothing to do; otherwise a user namespace mapping this user to
/// itself, so files keep their owners and the process gains the right to
/// create network namespaces.
fn gain_namespace_rights() -> Result<(), String> {
    let uid = nix::unistd::Uid::effective();
    if uid.is_root() {
        return Ok(());
    }
    let gid = nix::unistd::Gid::effective();
    unshare(CloneFlags::CLONE_NEWUSER).map_err(|e| format!("unshare(CLONE_NEWUSER): {e}"))?;
    let write = |file: &str, text: String| {
        std::fs::write(file, text).map_err(|e| format!("writing {file}: {e}"))
    };
    write("/proc/self/setgroups", "deny".to_string())?;
    write("/proc/self/uid_map", format!("{uid} {uid} 1"))?;
    write("/proc/self/gid_map", format!("{gid} {gid} 1"))
}

/// Tries the whole thing once on a throwaway thread.
fn probe() -> Result<(), String> {
    std::thread::spawn(|| enter_private_network().map_err(|e| e.to_string()))
        .join()
        .map_err(|_| "the probe thread panicked".to_string())?
}

/// Moves the calling thread into a new network namespace and brings its
/// loopback interface up (a new namespace has `lo` down: nothing could
/// connect to 127.0.0.1). Only this thread, and what it starts, is moved.
pub fn enter_private_network() -> io::Result<()> {
    unshare(CloneFlags::CLONE_NEWNET)
        .map_err(|e| io::Error::other(format!("unshare(CLONE_NEWNET): {e}")))?;
    loopback_up()
}

/// `SIOCSIFFLAGS` on `lo`: what `ip link set lo up` does, without needing
/// the `ip` program in the grading image.
fn loopback_up() -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let socket = std::net::UdpSocket::bind("0.0.0.0:0")?;
    let mut request = Ifreq::named(b"lo");
    let fd = socket.as_raw_fd();
    // SAFETY: `request` is a properly sized, initialised `struct ifreq`
    // whose name is NUL-terminated; both ioctls only read and write inside
    // it, and `fd` is an open socket owned by `socket` for the whole call.
    #[allow(unsafe_code)]
    let status = unsafe {
        if libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request as *mut Ifreq) < 0 {
            -1
        } else {
            request.flags |= libc::IFF_UP as libc::c_short;
            libc::ioctl(fd, libc::SIOCSIFFLAGS, &request as *const Ifreq)
        }
    };
    if status < 0 {
        return Err(io::Error::other(format!(
            "bringing the loopback interface up: {}",
            io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// The part of `struct ifreq` the flag ioctls use: the interface name and
/// the flags, padded to the kernel's size of the union.
#[repr(C)]
struct Ifreq {
    name: [libc::c_char; libc::IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

impl Ifreq {
    fn named(name: &[u8]) -> Ifreq {
        let mut request = Ifreq {
            name: [0; libc::IFNAMSIZ],
            flags: 0,
            _pad: [0; 22],
        };
        for (slot, byte) in request.name.iter_mut().zip(name) {
            *slot = *byte as libc::c_char;
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_is_parsed_or_refused_with_the_choices() {
        assert_eq!(NetworkMode::parse("private"), Ok(NetworkMode::Private));
        assert_eq!(NetworkMode::parse("auto"), Ok(NetworkMode::Auto));
        assert_eq!(NetworkMode::parse("shared"), Ok(NetworkMode::Shared));
        let e = NetworkMode::parse("none").unwrap_err();
        assert!(e.contains("auto, private or shared"), "{e}");
    }

    #[test]
    fn ifreq_has_the_kernels_size() {
        // struct ifreq is 40 bytes on 64-bit Linux (16 name + 24 union).
        assert_eq!(std::mem::size_of::<Ifreq>(), 40);
    }

    #[test]
    fn a_private_thread_cannot_reach_the_hosts_loopback() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let inside = std::thread::spawn(move || {
            if let Err(e) = enter_private_network() {
                return Err(e.to_string());
            }
            // Its own loopback works...
            let own = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
            let own_addr = own.local_addr().map_err(|e| e.to_string())?;
            std::net::TcpStream::connect(own_addr).map_err(|e| e.to_string())?;
            // ...the host's listener is not there.
            Ok(
                std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(1))
                    .is_ok(),
            )
        })
        .join()
        .unwrap();
        match inside {
            Ok(reached) => assert!(!reached, "a private network reached the host's {addr}"),
            // Not root here: creating the namespace needs the user namespace
            // that `prepare` enters at start, which a test process can't.
            Err(e) if !nix::unistd::Uid::effective().is_root() => {
                eprintln!("skipped: {e}")
            }
            Err(e) => panic!("as root a network namespace must be possible: {e}"),
        }
        // The test's own thread is still on the host's loopback.
        assert!(std::net::TcpStream::connect(addr).is_ok());
    }
}
