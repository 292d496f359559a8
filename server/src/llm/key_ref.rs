//! Key references (`api_key_ref`): an LLM's provider key read at each call from an
//! environment variable or a file, instead of being stored.
//!
//! They resolve only inside what the operator allowed at start: environment variables whose
//! names start with [`ENV_PREFIX`], and files inside a `--key-ref-dir`, never inside the data
//! directory (the database, the secret key). A resolution error says only that the reference
//! could not be resolved: whether a file exists or a variable is set is not the caller's to
//! learn. The key itself is never logged.

use std::path::{Component, Path, PathBuf};

/// What an environment reference must start with.
pub const ENV_PREFIX: &str = "HEARTH_KEY_";
/// The one answer a caller gets for a reference that does not resolve.
pub const UNRESOLVED: &str = "the key reference could not be resolved";

/// Where references may point, fixed at start.
#[derive(Clone, Debug, Default)]
pub struct KeyRefs {
    /// `--key-ref-dir` directories, as given (absolute).
    dirs: Vec<PathBuf>,
    /// The data directory and the secret key file: never readable through a reference.
    forbidden: Vec<PathBuf>,
}

impl KeyRefs {
    /// `dirs` must be absolute; `forbidden` are paths no reference may reach into.
    pub fn new(dirs: Vec<PathBuf>, forbidden: Vec<PathBuf>) -> KeyRefs {
        KeyRefs { dirs, forbidden }
    }

    /// Checks the form of `reference` and that it points where references may: the message is
    /// shown to the admin who saves it and says nothing of what is on the server.
    pub fn validate(&self, reference: &str) -> Result<(), String> {
        match reference.split_once(':') {
            Some(("env", name)) => valid_env_name(name).then_some(()).ok_or_else(|| {
                format!("an env: key reference must name a variable that starts with {ENV_PREFIX} (letters, digits and `_`)")
            }),
            Some(("file", path)) => {
                let path = Path::new(path);
                if !path.is_absolute() || path.components().any(|c| matches!(c, Component::ParentDir | Component::CurDir)) {
                    return Err("a file: key reference must be an absolute path without `.` or `..`".into());
                }
                if self.dirs.is_empty() {
                    return Err("file: key references are off: the operator allows them with --key-ref-dir DIR".into());
                }
                if !self.dirs.iter().any(|dir| path.starts_with(dir)) || self.forbidden.iter().any(|f| path.starts_with(f)) {
                    return Err("a file: key reference must point inside a directory given with --key-ref-dir".into());
                }
                Ok(())
            }
            _ => Err(format!("api_key_ref must be `env:{ENV_PREFIX}NAME` or `file:/path/inside/a/key-ref-dir`")),
        }
    }

    /// The key `reference` points at, or [`UNRESOLVED`]. Files are judged again on their real
    /// path (symbolic links followed), so a link out of an allowed directory does not work.
    pub fn resolve(&self, reference: &str) -> Result<String, &'static str> {
        self.validate(reference).map_err(|_| UNRESOLVED)?;
        let value = match reference.split_once(':') {
            Some(("env", name)) => std::env::var(name).ok(),
            Some(("file", path)) => self.read_file(Path::new(path)),
            _ => None,
        };
        value
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or(UNRESOLVED)
    }

    fn read_file(&self, path: &Path) -> Option<String> {
        let real = path.canonicalize().ok()?;
        let inside = |dirs: &[PathBuf]| {
            dirs.iter()
                .filter_map(|d| d.canonicalize().ok())
                .any(|d| real.starts_with(d))
        };
        if !inside(&self.dirs) || inside(&self.forbidden) || !real.is_file() {
            return None;
        }
        std::fs::read_to_string(real).ok()
    }
}

fn valid_env_name(name: &str) -> bool {
    name.len() > ENV_PREFIX.len()
        && name.starts_with(ENV_PREFIX)
        && name != "HEARTH_KEY_REF_DIR"
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_references_need_the_prefix() {
        let refs = KeyRefs::default();
        assert!(refs.validate("env:HEARTH_KEY_OPENAI").is_ok());
        for bad in [
            "env:HOME",
            "env:HEARTH_KEY_",
            "env:HEARTH_KEY_REF_DIR",
            "env:HEARTH_KEY_A-B",
            "env:",
            "vault:x",
            "HEARTH_KEY_A",
        ] {
            assert!(refs.validate(bad).is_err(), "{bad}");
        }
        std::env::set_var("HEARTH_KEY_UNIT_TEST", " sk-from-env \n");
        assert_eq!(
            refs.resolve("env:HEARTH_KEY_UNIT_TEST").as_deref(),
            Ok("sk-from-env")
        );
        assert_eq!(
            refs.resolve("env:HEARTH_KEY_UNIT_TEST_UNSET"),
            Err(UNRESOLVED)
        );
        assert_eq!(
            refs.resolve("env:PATH"),
            Err(UNRESOLVED),
            "set, but not Hearth's to read"
        );
    }

    #[test]
    fn file_references_stay_inside_the_allowed_directories_and_out_of_the_data_directory() {
        let root = tempfile::tempdir().unwrap();
        let keys = root.path().join("keys");
        let data = keys.join("data");
        std::fs::create_dir_all(&data).unwrap();
        std::fs::write(keys.join("openai"), "sk-file\n").unwrap();
        std::fs::write(data.join("secret.key"), "sealing key").unwrap();
        std::fs::write(root.path().join("outside"), "not a key").unwrap();
        std::os::unix::fs::symlink(root.path().join("outside"), keys.join("link")).unwrap();
        let refs = KeyRefs::new(vec![keys.clone()], vec![data.clone()]);
        let file = |p: &Path| format!("file:{}", p.display());

        assert_eq!(
            refs.resolve(&file(&keys.join("openai"))).as_deref(),
            Ok("sk-file")
        );
        for unresolved in [
            keys.join("missing"),
            data.join("secret.key"),
            keys.join("link"),
            root.path().join("outside"),
            keys.join("../outside"),
            keys.clone(),
        ] {
            assert_eq!(
                refs.resolve(&file(&unresolved)),
                Err(UNRESOLVED),
                "{}",
                unresolved.display()
            );
        }
        assert!(refs.validate(&file(&data.join("secret.key"))).is_err());
        assert!(refs
            .validate(&file(&root.path().join("outside")))
            .unwrap_err()
            .contains("--key-ref-dir"));
        assert!(KeyRefs::default()
            .validate(&file(&keys.join("openai")))
            .unwrap_err()
            .contains("off"));
    }
}
