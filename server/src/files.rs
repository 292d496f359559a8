//! The data directory and the SQLite file hold every secret Hearth keeps (sealed, but the
//! key that seals them lives beside them): created readable by their owner only, and a
//! looser mode found at start is warned about (not changed: the operator may mean it).

use std::path::Path;

/// Creates `dir` (and its parents) with mode 0700 if missing; warns if it exists with
/// permissions for group or others.
pub fn private_dir(dir: &Path) -> std::io::Result<()> {
    if dir.as_os_str().is_empty() {
        return Ok(());
    }
    if !dir.exists() {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        return builder.create(dir);
    }
    warn_if_open(dir, "directory", "chmod 700");
    Ok(())
}

/// Creates `file` empty with mode 0600 if missing; warns if it exists with permissions for
/// group or others.
pub fn private_file(file: &Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(file) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            warn_if_open(file, "file", "chmod 600");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn warn_if_open(path: &Path, what: &str, fix: &str) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                mode = %format!("{mode:o}"),
                "this {what} holds Hearth's secrets but other users of this machine may read it; `{fix}` it"
            );
        }
    }
}

#[cfg(not(unix))]
fn warn_if_open(_: &Path, _: &str, _: &str) {}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn new_directories_and_files_are_the_owners_only() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        super::private_dir(&dir).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        let file = dir.join("hearth.db");
        super::private_file(&file).unwrap();
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        super::private_file(&file).unwrap();
    }
}
