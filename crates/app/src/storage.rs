//! Private media storage: course videos and downloadable materials.
//!
//! One [`Storage`] wraps an [`ObjectStore`] chosen by `[storage]` in the configuration:
//!
//! * `local`: a directory ([`LocalFileSystem`]). Buyers get short-lived links to
//!   `{public_base}/media/private/{key}?expires=…&signature=…` that this server checks with
//!   [`Storage::verify_local_url`] (HMAC-SHA256 over `"GET\n{key}\n{expires}"`) and then serves
//!   from [`Storage::local_path`] (e.g. with actix-files `NamedFile`, which handles `Range`).
//! * `s3`: any S3-compatible store (AWS, MinIO, Alibaba OSS, …), addressed path-style. Buyers
//!   get SigV4 presigned `GET` URLs that the store itself checks.
//!
//! Object keys are checked by [`Storage::validate_key`] before any use, so a key can never
//! leave the bucket or the local root. Signed links live at most [`MAX_URL_TTL`].

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use futures_util::TryStreamExt as _;
use futures_util::stream::BoxStream;
use hmac::{Hmac, Mac};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::signer::{Method, Signer as _};
use object_store::{
    Attribute, Attributes, ObjectStore, ObjectStoreExt as _, PutMultipartOptions, PutOptions, PutPayload,
};
use secrecy::ExposeSecret as _;
use sha2::Sha256;
use tokio::io::AsyncReadExt as _;

use crate::config::{StorageBackend, StorageSettings};

/// Longest lifetime of a signed URL (15 minutes), whatever the caller asks.
pub const MAX_URL_TTL: Duration = Duration::from_secs(900);

/// Longest object key, in bytes.
pub const MAX_KEY_LEN: usize = 512;

/// Size of one part of a multipart upload (S3 wants at least 5 MiB except for the last part).
/// Files up to this size are uploaded with a single `PUT`.
pub const PART_SIZE: usize = 8 * 1024 * 1024;

/// Parts of one upload in flight at once: memory use of [`Storage::put_file`] stays below
/// `(PART_UPLOADS_IN_FLIGHT + 1) * PART_SIZE`.
const PART_UPLOADS_IN_FLIGHT: usize = 2;

/// The path under `public_base` where the HTTP layer serves local private media.
const LOCAL_URL_PREFIX: &str = "/media/private/";

type HmacSha256 = Hmac<Sha256>;

/// A rejected object key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The key is not a relative path of `[A-Za-z0-9._-]` segments; the text says why.
    #[error("invalid object key: {0}")]
    InvalidKey(&'static str),
}

/// Why a local signed URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// The signature is valid but its `expires` is in the past.
    #[error("the link has expired")]
    Expired,
    /// The signature does not match the key and expiry (altered, or not ours).
    #[error("the link signature is invalid")]
    BadSignature,
    /// This storage is S3: links are checked by the store, not here.
    #[error("this storage does not serve local links")]
    NotLocal,
}

/// What [`Storage::head`] knows about a stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Size in bytes.
    pub size: u64,
    /// Time of the last write.
    pub last_modified: DateTime<Utc>,
}

/// The backend-specific half of a [`Storage`].
enum Backend {
    Local { fs: Arc<LocalFileSystem>, signing_key: [u8; 32] },
    S3 { s3: Arc<AmazonS3> },
}

/// Private media storage: a local directory or an S3 bucket, plus what is needed to hand out
/// short-lived download links. Cheap to clone.
#[derive(Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    backend: Arc<Backend>,
}

impl fmt::Debug for Storage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print the signing key.
        f.debug_struct("Storage").field("store", &format_args!("{}", self.store)).finish_non_exhaustive()
    }
}

impl Storage {
    /// Opens the storage described by `[storage]`.
    ///
    /// `local` creates `local_root` when missing. `s3` uses path-style requests (so MinIO and
    /// local test servers work), the configured endpoint when not empty, and the configured key
    /// pair when `s3_access_key_id` is not empty (otherwise the instance credentials).
    /// `signing_key` signs local download links (unused by `s3`). Errors name the setting.
    pub fn from_settings(settings: &StorageSettings, signing_key: [u8; 32]) -> anyhow::Result<Storage> {
        match settings.backend {
            StorageBackend::Local => {
                let root = &settings.local_root;
                std::fs::create_dir_all(root).with_context(|| {
                    format!("storage.local_root: cannot create the directory {}", root.display())
                })?;
                let fs = LocalFileSystem::new_with_prefix(root)
                    .with_context(|| format!("storage.local_root: cannot use {}", root.display()))?;
                let fs = Arc::new(fs);
                Ok(Storage { store: fs.clone(), backend: Arc::new(Backend::Local { fs, signing_key }) })
            }
            StorageBackend::S3 => {
                if settings.s3_bucket.is_empty() {
                    bail!("storage.s3_bucket is required with storage.backend = \"s3\"");
                }
                if settings.s3_region.is_empty() {
                    bail!("storage.s3_region is required with storage.backend = \"s3\"");
                }
                let mut builder = AmazonS3Builder::new()
                    .with_bucket_name(&settings.s3_bucket)
                    .with_region(&settings.s3_region)
                    .with_allow_http(settings.s3_allow_http)
                    .with_virtual_hosted_style_request(false);
                let endpoint = settings.s3_endpoint.trim_end_matches('/');
                if !endpoint.is_empty() {
                    if endpoint.starts_with("http://") {
                        if !settings.s3_allow_http {
                            bail!(
                                "storage.s3_endpoint is http:// but storage.s3_allow_http is false: \
                                 use https or allow http"
                            );
                        }
                    } else if !endpoint.starts_with("https://") {
                        bail!("storage.s3_endpoint must start with http:// or https:// (got {endpoint:?})");
                    }
                    builder = builder.with_endpoint(endpoint);
                }
                if !settings.s3_access_key_id.is_empty() {
                    let secret = settings.s3_secret_access_key.expose_secret();
                    if secret.is_empty() {
                        bail!(
                            "storage.s3_secret_access_key is required when storage.s3_access_key_id is set"
                        );
                    }
                    builder =
                        builder.with_access_key_id(&settings.s3_access_key_id).with_secret_access_key(secret);
                }
                let s3 = builder
                    .build()
                    .context("storage.s3_bucket / s3_region / s3_endpoint: cannot configure the S3 client")?;
                let s3 = Arc::new(s3);
                Ok(Storage { store: s3.clone(), backend: Arc::new(Backend::S3 { s3 }) })
            }
        }
    }

    /// Whether this storage is an S3 bucket (links are presigned URLs) rather than a directory.
    pub fn is_s3(&self) -> bool {
        matches!(*self.backend, Backend::S3 { .. })
    }

    /// The underlying object store, for operations this module does not wrap.
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Checks an object key: a relative path of `[A-Za-z0-9._-]` segments separated by `/`,
    /// with no empty, `.` or `..` segment, at most [`MAX_KEY_LEN`] bytes.
    pub fn validate_key(key: &str) -> Result<(), StorageError> {
        if key.is_empty() {
            return Err(StorageError::InvalidKey("empty"));
        }
        if key.len() > MAX_KEY_LEN {
            return Err(StorageError::InvalidKey("longer than 512 bytes"));
        }
        for segment in key.split('/') {
            match segment {
                "" => {
                    return Err(StorageError::InvalidKey("empty segment (leading, trailing or double '/')"));
                }
                "." | ".." => return Err(StorageError::InvalidKey("'.' or '..' segment")),
                _ => {}
            }
            if !segment.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-')) {
                return Err(StorageError::InvalidKey("characters other than A-Z a-z 0-9 . _ - /"));
            }
        }
        Ok(())
    }

    /// The MIME type of a key from its extension (`application/octet-stream` when unknown).
    pub fn content_type(key: &str) -> String {
        mime_guess::from_path(key).first_or_octet_stream().essence_str().to_owned()
    }

    fn object_path(key: &str) -> anyhow::Result<ObjectPath> {
        Self::validate_key(key)?;
        ObjectPath::parse(key).with_context(|| format!("object key {key:?}"))
    }

    /// Content-Type stored with S3 objects (the local backend keeps no attributes).
    fn attributes(&self, key: &str) -> Attributes {
        let mut attributes = Attributes::new();
        if self.is_s3() {
            attributes.insert(Attribute::ContentType, Self::content_type(key).into());
        }
        attributes
    }

    /// Uploads the file at `path` as `key` and returns its size.
    ///
    /// The file is never read whole into memory: files larger than [`PART_SIZE`] go up as a
    /// multipart upload of [`PART_SIZE`] parts (a few in flight at once), smaller ones in one
    /// `PUT`. `progress(sent, total)` is called after each part (once for a single `PUT`).
    /// A failed multipart upload is aborted, so no partial object is left behind.
    pub async fn put_file(
        &self,
        key: &str,
        path: &Path,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> anyhow::Result<u64> {
        let location = Self::object_path(key)?;
        let mut file =
            tokio::fs::File::open(path).await.with_context(|| format!("cannot open {}", path.display()))?;
        let total = file.metadata().await.with_context(|| format!("cannot stat {}", path.display()))?.len();

        if total <= PART_SIZE as u64 {
            let mut buf = Vec::with_capacity(total as usize);
            (&mut file)
                .take(total + 1)
                .read_to_end(&mut buf)
                .await
                .with_context(|| format!("cannot read {}", path.display()))?;
            if buf.len() as u64 != total {
                bail!("{} changed size while it was being uploaded", path.display());
            }
            let opts = PutOptions { attributes: self.attributes(key), ..Default::default() };
            self.store
                .put_opts(&location, PutPayload::from(Bytes::from(buf)), opts)
                .await
                .with_context(|| format!("cannot store {key}"))?;
            progress(total, total);
            return Ok(total);
        }

        let opts = PutMultipartOptions { attributes: self.attributes(key), ..Default::default() };
        let mut upload = self
            .store
            .put_multipart_opts(&location, opts)
            .await
            .with_context(|| format!("cannot start the upload of {key}"))?;
        let result = upload_parts(&mut *upload, &mut file, path, total, progress).await;
        match result {
            Ok(()) => {
                if let Err(e) = upload.complete().await {
                    let _ = upload.abort().await;
                    return Err(e).with_context(|| format!("cannot complete the upload of {key}"));
                }
                Ok(total)
            }
            Err(e) => {
                if let Err(abort) = upload.abort().await {
                    tracing::warn!(key, error = %abort, "could not abort a failed multipart upload");
                }
                Err(e.context(format!("cannot upload {key}")))
            }
        }
    }

    /// Stores `bytes` as `key` in one `PUT`.
    pub async fn put_bytes(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        let location = Self::object_path(key)?;
        let opts = PutOptions { attributes: self.attributes(key), ..Default::default() };
        self.store
            .put_opts(&location, PutPayload::from(bytes), opts)
            .await
            .with_context(|| format!("cannot store {key}"))?;
        Ok(())
    }

    /// Size and last write of `key`, or `None` when there is no such object.
    pub async fn head(&self, key: &str) -> anyhow::Result<Option<ObjectInfo>> {
        let location = Self::object_path(key)?;
        match self.store.head(&location).await {
            Ok(meta) => Ok(Some(ObjectInfo { size: meta.size, last_modified: meta.last_modified })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot look up {key}")),
        }
    }

    /// Streams `key` (`None` when there is no such object), for downloads served through this
    /// server.
    #[allow(clippy::type_complexity)]
    pub async fn get(
        &self,
        key: &str,
    ) -> anyhow::Result<Option<(ObjectInfo, BoxStream<'static, Result<Bytes, std::io::Error>>)>> {
        let location = Self::object_path(key)?;
        match self.store.get(&location).await {
            Ok(result) => {
                let info = ObjectInfo { size: result.meta.size, last_modified: result.meta.last_modified };
                let stream = result.into_stream().map_err(std::io::Error::other).boxed();
                Ok(Some((info, stream)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(e).with_context(|| format!("cannot read {key}")),
        }
    }

    /// Deletes `key`; deleting a missing object is not an error.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        let location = Self::object_path(key)?;
        match self.store.delete(&location).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e).with_context(|| format!("cannot delete {key}")),
        }
    }

    /// For the local backend, the file that holds `key` (whether or not it exists), to be
    /// served with actix-files `NamedFile`. `None` for S3 and for invalid keys.
    pub fn local_path(&self, key: &str) -> Option<PathBuf> {
        let Backend::Local { fs, .. } = &*self.backend else {
            return None;
        };
        let location = Self::object_path(key).ok()?;
        fs.path_to_filesystem(&location).ok()
    }

    /// A download link for `key` valid for `ttl` (at most [`MAX_URL_TTL`], at least one second).
    ///
    /// * S3: a SigV4 presigned `GET` URL, checked by the store (object_store signs with the
    ///   system clock, so `now` is not used).
    /// * local: `{public_base}/media/private/{key}?expires={unix seconds}&signature={hex}` where
    ///   the signature is HMAC-SHA256(signing key, `"GET\n{key}\n{expires}"`) in lowercase hex,
    ///   checked by [`Storage::verify_local_url`].
    pub async fn signed_url(
        &self,
        key: &str,
        ttl: Duration,
        public_base: &str,
        now: DateTime<Utc>,
    ) -> anyhow::Result<String> {
        if ttl > MAX_URL_TTL {
            bail!("signed URLs live at most {} s (asked: {} s)", MAX_URL_TTL.as_secs(), ttl.as_secs());
        }
        if ttl.as_secs() == 0 {
            bail!("signed URLs live at least one second");
        }
        let location = Self::object_path(key)?;
        match &*self.backend {
            Backend::S3 { s3 } => {
                let url = s3
                    .signed_url(Method::GET, &location, ttl)
                    .await
                    .with_context(|| format!("cannot presign {key}"))?;
                Ok(url.to_string())
            }
            Backend::Local { signing_key, .. } => {
                let ttl = i64::try_from(ttl.as_secs()).context("ttl")?;
                let expires = now.timestamp() + ttl;
                let signature = hex::encode(local_mac(signing_key, key, expires).finalize().into_bytes());
                let base = public_base.trim_end_matches('/');
                Ok(format!("{base}{LOCAL_URL_PREFIX}{key}?expires={expires}&signature={signature}"))
            }
        }
    }

    /// Checks a local download link made by [`Storage::signed_url`]: the signature must match
    /// `key` and `expires` (compared in constant time), and `now` must not be after `expires`.
    pub fn verify_local_url(
        &self,
        key: &str,
        expires: i64,
        signature: &str,
        now: DateTime<Utc>,
    ) -> Result<(), UrlError> {
        let Backend::Local { signing_key, .. } = &*self.backend else {
            return Err(UrlError::NotLocal);
        };
        if Self::validate_key(key).is_err() {
            return Err(UrlError::BadSignature);
        }
        let signature = hex::decode(signature).map_err(|_| UrlError::BadSignature)?;
        local_mac(signing_key, key, expires).verify_slice(&signature).map_err(|_| UrlError::BadSignature)?;
        if now.timestamp() > expires {
            return Err(UrlError::Expired);
        }
        Ok(())
    }
}

/// HMAC-SHA256 over `"GET\n{key}\n{expires}"`.
fn local_mac(signing_key: &[u8; 32], key: &str, expires: i64) -> HmacSha256 {
    #[allow(clippy::expect_used)]
    let mut mac = HmacSha256::new_from_slice(signing_key).expect("HMAC takes keys of any length");
    mac.update(format!("GET\n{key}\n{expires}").as_bytes());
    mac
}

/// Reads `file` in [`PART_SIZE`] parts and uploads them, a few at a time, reporting progress as
/// parts complete (in order). Does not complete or abort `upload`.
async fn upload_parts(
    upload: &mut dyn object_store::MultipartUpload,
    file: &mut tokio::fs::File,
    path: &Path,
    total: u64,
    progress: &(dyn Fn(u64, u64) + Send + Sync),
) -> anyhow::Result<()> {
    let mut in_flight = std::collections::VecDeque::new();
    let mut read = 0u64;
    let mut sent = 0u64;
    let result = async {
        loop {
            let mut buf = Vec::with_capacity(PART_SIZE);
            (&mut *file)
                .take(PART_SIZE as u64)
                .read_to_end(&mut buf)
                .await
                .with_context(|| format!("cannot read {}", path.display()))?;
            if buf.is_empty() {
                break;
            }
            read += buf.len() as u64;
            if read > total {
                bail!("{} grew while it was being uploaded", path.display());
            }
            let len = buf.len() as u64;
            let part = upload.put_part(PutPayload::from(Bytes::from(buf)));
            in_flight.push_back((len, tokio::spawn(part)));
            while in_flight.len() >= PART_UPLOADS_IN_FLIGHT {
                sent += finish_part(&mut in_flight).await?;
                progress(sent, total);
            }
        }
        while !in_flight.is_empty() {
            sent += finish_part(&mut in_flight).await?;
            progress(sent, total);
        }
        if read != total {
            bail!("{} shrank while it was being uploaded", path.display());
        }
        Ok(())
    }
    .await;
    for (_, task) in in_flight {
        task.abort();
    }
    result
}

type PartTask = (u64, tokio::task::JoinHandle<object_store::Result<()>>);

/// Waits for the oldest part in flight and returns its size.
async fn finish_part(in_flight: &mut std::collections::VecDeque<PartTask>) -> anyhow::Result<u64> {
    let Some((len, task)) = in_flight.pop_front() else {
        return Ok(0);
    };
    task.await.context("part upload task failed")?.context("cannot upload a part")?;
    Ok(len)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    const KEY: [u8; 32] = [7; 32];

    fn local(dir: &Path) -> Storage {
        let settings = StorageSettings {
            backend: StorageBackend::Local,
            local_root: dir.to_path_buf(),
            s3_bucket: String::new(),
            s3_region: "us-east-1".into(),
            s3_endpoint: String::new(),
            s3_access_key_id: String::new(),
            s3_secret_access_key: SecretString::from(String::new()),
            s3_allow_http: false,
            url_ttl_seconds: 600,
        };
        Storage::from_settings(&settings, KEY).expect("local storage")
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("course-shop-storage-unit-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn query(url: &str, name: &str) -> String {
        let query = url.split_once('?').expect("query").1;
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .expect("parameter")
            .to_owned()
    }

    #[test]
    fn valid_keys() {
        for key in ["a", "courses/12/lesson-1.mp4", "A.B_c-d/e", "x/.hidden", "..a/b..", &"k".repeat(512)] {
            assert_eq!(Storage::validate_key(key), Ok(()), "{key}");
        }
    }

    #[test]
    fn invalid_keys() {
        let long = "k".repeat(513);
        for key in [
            "",
            "/abs",
            "trailing/",
            "a//b",
            ".",
            "..",
            "a/../b",
            "./a",
            "a/.",
            "sp ace",
            "back\\slash",
            "pct%2e",
            "q?x",
            "hash#x",
            "ünicode",
            "nul\0",
            "new\nline",
            long.as_str(),
        ] {
            assert!(Storage::validate_key(key).is_err(), "{key:?} should be refused");
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(Storage::content_type("a/b.mp4"), "video/mp4");
        assert_eq!(Storage::content_type("a/b.pdf"), "application/pdf");
        assert_eq!(Storage::content_type("a/noext"), "application/octet-stream");
    }

    #[tokio::test]
    async fn local_signed_url_round_trip_and_tampering() {
        let dir = temp_dir("sign");
        let storage = local(&dir);
        assert!(!storage.is_s3());
        let now = DateTime::from_timestamp(1_700_000_000, 0).expect("time");
        let url = storage
            .signed_url("c/1/v.mp4", Duration::from_secs(600), "https://shop.example/", now)
            .await
            .expect("sign");
        assert!(
            url.starts_with("https://shop.example/media/private/c/1/v.mp4?expires=1700000600&signature=")
        );
        let expires: i64 = query(&url, "expires").parse().expect("expires");
        let signature = query(&url, "signature");
        assert_eq!(signature.len(), 64);
        assert!(signature.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));

        assert_eq!(storage.verify_local_url("c/1/v.mp4", expires, &signature, now), Ok(()));
        // Still valid at the last second, expired one second later.
        let at = |t: i64| DateTime::from_timestamp(t, 0).expect("time");
        assert_eq!(storage.verify_local_url("c/1/v.mp4", expires, &signature, at(expires)), Ok(()));
        assert_eq!(
            storage.verify_local_url("c/1/v.mp4", expires, &signature, at(expires + 1)),
            Err(UrlError::Expired)
        );
        // Altered key, expiry or signature.
        assert_eq!(
            storage.verify_local_url("c/1/w.mp4", expires, &signature, now),
            Err(UrlError::BadSignature)
        );
        assert_eq!(
            storage.verify_local_url("c/1/v.mp4", expires + 3600, &signature, now),
            Err(UrlError::BadSignature)
        );
        let mut altered = signature.clone().into_bytes();
        altered[10] = if altered[10] == b'0' { b'1' } else { b'0' };
        let altered = String::from_utf8(altered).expect("hex");
        assert_eq!(
            storage.verify_local_url("c/1/v.mp4", expires, &altered, now),
            Err(UrlError::BadSignature)
        );
        assert_eq!(
            storage.verify_local_url("c/1/v.mp4", expires, &signature[..62], now),
            Err(UrlError::BadSignature)
        );
        assert_eq!(storage.verify_local_url("c/1/v.mp4", expires, "zz", now), Err(UrlError::BadSignature));
        assert_eq!(storage.verify_local_url("../x", expires, &signature, now), Err(UrlError::BadSignature));

        // Another signing key does not accept it.
        let other = {
            let settings = StorageSettings {
                backend: StorageBackend::Local,
                local_root: dir.clone(),
                s3_bucket: String::new(),
                s3_region: String::new(),
                s3_endpoint: String::new(),
                s3_access_key_id: String::new(),
                s3_secret_access_key: SecretString::from(String::new()),
                s3_allow_http: false,
                url_ttl_seconds: 600,
            };
            Storage::from_settings(&settings, [8; 32]).expect("storage")
        };
        assert_eq!(
            other.verify_local_url("c/1/v.mp4", expires, &signature, now),
            Err(UrlError::BadSignature)
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn ttl_and_key_guards() {
        let dir = temp_dir("guards");
        let storage = local(&dir);
        let now = Utc::now();
        assert!(storage.signed_url("a", Duration::from_secs(901), "http://x", now).await.is_err());
        assert!(storage.signed_url("a", Duration::from_millis(500), "http://x", now).await.is_err());
        assert!(storage.signed_url("a", Duration::from_secs(900), "http://x", now).await.is_ok());
        assert!(storage.signed_url("../a", Duration::from_secs(60), "http://x", now).await.is_err());
        assert_eq!(storage.local_path("../a"), None);
        let root = std::fs::canonicalize(&dir).expect("root");
        assert_eq!(storage.local_path("a/b.mp4"), Some(root.join("a").join("b.mp4")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn s3_settings_errors_name_the_setting() {
        let mut settings = StorageSettings {
            backend: StorageBackend::S3,
            local_root: PathBuf::new(),
            s3_bucket: String::new(),
            s3_region: "us-east-1".into(),
            s3_endpoint: "http://127.0.0.1:9".into(),
            s3_access_key_id: "k".into(),
            s3_secret_access_key: SecretString::from("s".to_owned()),
            s3_allow_http: true,
            url_ttl_seconds: 600,
        };
        let err = Storage::from_settings(&settings, KEY).expect_err("no bucket").to_string();
        assert!(err.contains("storage.s3_bucket"), "{err}");
        settings.s3_bucket = "b".into();
        settings.s3_allow_http = false;
        let err = Storage::from_settings(&settings, KEY).expect_err("http").to_string();
        assert!(err.contains("storage.s3_allow_http"), "{err}");
        settings.s3_allow_http = true;
        let storage = Storage::from_settings(&settings, KEY).expect("s3");
        assert!(storage.is_s3());
        assert_eq!(storage.local_path("a"), None);
        let now = Utc::now();
        assert_eq!(storage.verify_local_url("a", now.timestamp() + 60, "00", now), Err(UrlError::NotLocal));
    }
}
