//! Reading files that configuration names, with a size cap and a file-type check: a
//! secret, rule, certificate or web configuration file is a small regular file, and a path
//! that names `/dev/zero`, a FIFO, a directory or a 2 GB file is refused, never read whole.

use std::fmt;
use std::io::Read as _;
use std::path::Path;

/// Why a file was not read.
#[derive(Debug)]
pub enum ReadError {
    /// Opening or reading failed.
    Io(std::io::Error),
    /// The path is a directory, a device, a FIFO or a socket.
    NotAFile(&'static str),
    /// The file holds more than the cap.
    TooLarge {
        /// The cap, bytes.
        max: u64,
    },
    /// Text was expected and the bytes are not UTF-8.
    NotText,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::NotAFile(kind) => write!(f, "is a {kind}, not a regular file"),
            Self::TooLarge { max } => write!(f, "is larger than {}", bytesize::ByteSize(*max)),
            Self::NotText => write!(f, "is not UTF-8 text"),
        }
    }
}

impl std::error::Error for ReadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<std::io::Error> for ReadError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// Caps for the kinds of file configuration names.
pub mod caps {
    /// A secret (DSN, token, routing key, password file).
    pub const SECRET: u64 = 64 << 10;
    /// A rule file.
    pub const RULES: u64 = 16 << 20;
    /// The web configuration file.
    pub const WEB_CONFIG: u64 = 1 << 20;
    /// A certificate, key or CA bundle.
    pub const PEM: u64 = 4 << 20;
}

/// The bytes of the regular file at `path`, at most `max` of them.
pub fn read(path: &Path, max: u64) -> Result<Vec<u8>, ReadError> {
    let file = open(path)?;
    let meta = file.metadata()?;
    let kind = meta.file_type();
    if !kind.is_file() {
        return Err(ReadError::NotAFile(kind_name(kind)));
    }
    if meta.len() > max {
        return Err(ReadError::TooLarge { max });
    }
    // The file may grow between the stat and the read: never take more than the cap.
    let mut out = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(ReadError::TooLarge { max });
    }
    Ok(out)
}

/// Opens `path` for reading without blocking on a FIFO that has no writer (a regular
/// file ignores the flag), so the type check that follows always gets to run.
pub fn open(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

/// The text of the regular file at `path`, at most `max` bytes.
pub fn read_to_string(path: &Path, max: u64) -> Result<String, ReadError> {
    String::from_utf8(read(path, max)?).map_err(|_| ReadError::NotText)
}

fn kind_name(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if kind.is_dir() {
        "directory"
    } else if kind.is_char_device() || kind.is_block_device() {
        "device"
    } else if kind.is_fifo() {
        "FIFO"
    } else if kind.is_socket() {
        "socket"
    } else {
        "special file"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_large_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read(Path::new("/dev/zero"), 1 << 20),
            Err(ReadError::NotAFile("device"))
        ));
        assert!(matches!(
            read(dir.path(), 1 << 20),
            Err(ReadError::NotAFile("directory"))
        ));
        // A FIFO without a writer would block an ordinary open forever.
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        assert!(matches!(
            read(&fifo, 1 << 20),
            Err(ReadError::NotAFile("FIFO"))
        ));
        let big = dir.path().join("big");
        std::fs::write(&big, vec![b'x'; 2048]).unwrap();
        let e = read(&big, 1024).unwrap_err();
        assert_eq!(e.to_string(), "is larger than 1.0 KiB");
        assert_eq!(read(&big, 2048).unwrap().len(), 2048);
        std::fs::write(&big, [0xff, 0xfe]).unwrap();
        assert!(matches!(read_to_string(&big, 10), Err(ReadError::NotText)));
    }
}
