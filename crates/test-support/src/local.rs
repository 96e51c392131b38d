//! Resources of the local machine: a free port, a fresh directory.

use std::path::PathBuf;

/// Finds a free local port (bind to port 0, read it, release it). Another process could take it
/// before the caller binds it; on a test machine that is rare enough.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port is free");
    listener.local_addr().expect("the listener has an address").port()
}

/// A new, empty directory under the system temporary directory. The caller removes it (the
/// fixtures of this crate do so when dropped).
pub fn fresh_temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("taskify-test-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("the temporary directory can be created");
    dir
}
