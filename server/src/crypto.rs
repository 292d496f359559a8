//! Secrets at rest: AES-256-GCM under the server's secret key, and the hashes Hearth stores
//! instead of keys.
//!
//! The secret key lives in a file (generated with mode 0600 on first start); it is never
//! logged and never leaves this module except as the derived values below.

use std::path::Path;

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};

/// Prefix of every encrypted value, so a later key or algorithm change can be recognised.
const SEALED_PREFIX: &str = "v1:";

pub struct SecretBox {
    cipher: Aes256Gcm,
    /// Mixed into fingerprints of low-entropy secrets (master keys) so a database dump cannot
    /// be used to guess them offline.
    pepper: [u8; 32],
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("cannot read the secret key file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot create the secret key file {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error("the secret key file {0} does not hold a base64-encoded 32-byte key")]
    Malformed(String),
    #[error("HEARTH_SECRET_KEY does not hold a base64-encoded 32-byte key")]
    MalformedEnv,
    #[error("a stored secret could not be decrypted (wrong secret key, or corrupted data)")]
    Decrypt,
}

impl SecretBox {
    /// Loads the key from `path`, generating one there first if the file does not exist.
    pub fn load_or_create(path: &Path) -> Result<SecretBox, CryptoError> {
        let shown = path.display().to_string();
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = Aes256Gcm::generate_key(OsRng);
                let text = format!("{}\n", STANDARD.encode(key));
                write_private(path, &text).map_err(|source| CryptoError::Write {
                    path: shown.clone(),
                    source,
                })?;
                tracing::info!(path = %shown, "generated a new secret key");
                text
            }
            Err(source) => {
                return Err(CryptoError::Read {
                    path: shown,
                    source,
                })
            }
        };
        SecretBox::from_base64(&text).ok_or(CryptoError::Malformed(shown))
    }

    /// The key given as text (`HEARTH_SECRET_KEY`), in the key file's form.
    pub fn from_env_value(text: &str) -> Result<SecretBox, CryptoError> {
        SecretBox::from_base64(text).ok_or(CryptoError::MalformedEnv)
    }

    fn from_base64(text: &str) -> Option<SecretBox> {
        let bytes = STANDARD.decode(text.trim()).ok()?;
        let key: [u8; 32] = bytes.try_into().ok()?;
        Some(SecretBox::from_key(key))
    }

    pub fn from_key(key: [u8; 32]) -> SecretBox {
        let pepper: [u8; 32] = Sha256::new_with_prefix(b"hearth fingerprint pepper")
            .chain_update(key)
            .finalize()
            .into();
        SecretBox {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key)),
            pepper,
        }
    }

    /// Encrypts `plaintext` to a printable string with a fresh random nonce.
    pub fn seal(&self, plaintext: &str) -> String {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(&nonce, plaintext.as_bytes())
            .expect("AES-GCM encryption of an in-memory buffer");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        format!("{SEALED_PREFIX}{}", STANDARD.encode(out))
    }

    pub fn open(&self, sealed: &str) -> Result<String, CryptoError> {
        let encoded = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or(CryptoError::Decrypt)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| CryptoError::Decrypt)?;
        if bytes.len() < 12 {
            return Err(CryptoError::Decrypt);
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ciphertext)
            .map_err(|_| CryptoError::Decrypt)?;
        String::from_utf8(plain).map_err(|_| CryptoError::Decrypt)
    }

    /// A keyed fingerprint of a secret that may be guessable (a master key chosen by hand).
    pub fn fingerprint(&self, secret: &str) -> String {
        hex::encode(
            Sha256::new_with_prefix(self.pepper)
                .chain_update(secret.as_bytes())
                .finalize(),
        )
    }
}

/// The stored form of a random API key: its SHA-256. Keys carry 256 bits of entropy, so a
/// fast hash is enough and lets a key be found by its hash.
pub fn hash_api_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// `n` random bytes, URL-safe base64 without padding.
pub fn random_token(n: usize) -> String {
    use aes_gcm::aead::rand_core::RngCore;
    let mut bytes = vec![0u8; n];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)?.write_all(contents.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_with_the_same_key_only() {
        let a = SecretBox::from_key([1; 32]);
        let b = SecretBox::from_key([2; 32]);
        let sealed = a.seal("sk-provider-key");
        assert!(!sealed.contains("sk-provider-key"));
        assert_ne!(
            sealed,
            a.seal("sk-provider-key"),
            "every seal uses a fresh nonce"
        );
        assert_eq!(a.open(&sealed).unwrap(), "sk-provider-key");
        assert!(b.open(&sealed).is_err());
        assert!(a.open("v1:AAAA").is_err());
        assert!(a.open("plain").is_err());
    }

    #[test]
    fn the_key_file_is_generated_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/secret.key");
        let first = SecretBox::load_or_create(&path).unwrap();
        let sealed = first.seal("x");
        let second = SecretBox::load_or_create(&path).unwrap();
        assert_eq!(second.open(&sealed).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }

    #[test]
    fn a_malformed_key_file_is_refused_without_echoing_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        std::fs::write(&path, "not-a-key-at-all").unwrap();
        let err = SecretBox::load_or_create(&path).err().unwrap().to_string();
        assert!(
            err.contains("secret.key") && !err.contains("not-a-key-at-all"),
            "{err}"
        );
    }

    #[test]
    fn fingerprints_depend_on_the_server_key() {
        let a = SecretBox::from_key([1; 32]);
        let b = SecretBox::from_key([2; 32]);
        assert_eq!(a.fingerprint("k"), a.fingerprint("k"));
        assert_ne!(a.fingerprint("k"), b.fingerprint("k"));
    }
}
