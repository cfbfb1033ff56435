//! Integration tests of `shop_app::storage` against a real local directory and a real
//! S3-compatible server that checks SigV4 signatures and presigned expiry.
//!
//! The S3 tests need the server started by `scripts/s3-throwaway.sh`:
//!
//! ```sh
//! eval "$(scripts/s3-throwaway.sh start)"
//! cargo test -p shop-app --test storage
//! scripts/s3-throwaway.sh stop
//! ```
//!
//! Without `S3_TEST_ENDPOINT` they fail (never skip), so CI cannot pass them by accident.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use futures_util::TryStreamExt as _;
use secrecy::SecretString;
use shop_app::config::{StorageBackend, StorageSettings};
use shop_app::storage::{PART_SIZE, Storage, UrlError};

const SIGNING_KEY: [u8; 32] = [42; 32];
/// A little over 20 MiB, not a multiple of the part size: three parts (8 + 8 + 4 MiB and a bit).
const BIG: u64 = 20 * 1024 * 1024 + 12_345;

fn settings(backend: StorageBackend) -> StorageSettings {
    StorageSettings {
        backend,
        local_root: PathBuf::new(),
        s3_bucket: String::new(),
        s3_region: "us-east-1".into(),
        s3_endpoint: String::new(),
        s3_access_key_id: String::new(),
        s3_secret_access_key: SecretString::from(String::new()),
        s3_allow_http: false,
        url_ttl_seconds: 600,
    }
}

fn env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: the S3 storage tests need a test server. Run \
             `eval \"$(scripts/s3-throwaway.sh start)\"` first (and `scripts/s3-throwaway.sh stop` after)"
        ),
    }
}

fn s3() -> Storage {
    let endpoint = env("S3_TEST_ENDPOINT");
    let mut s = settings(StorageBackend::S3);
    s.s3_bucket = env("S3_TEST_BUCKET");
    s.s3_access_key_id = env("S3_TEST_ACCESS_KEY");
    s.s3_secret_access_key = SecretString::from(env("S3_TEST_SECRET_KEY"));
    s.s3_allow_http = endpoint.starts_with("http://");
    s.s3_endpoint = endpoint;
    let storage = Storage::from_settings(&s, SIGNING_KEY).expect("S3 storage from the S3_TEST_* settings");
    assert!(storage.is_s3());
    storage
}

/// A fresh directory under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "course-shop-storage-{name}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn local(root: &Path) -> Storage {
    let mut s = settings(StorageBackend::Local);
    s.local_root = root.join("media");
    let storage = Storage::from_settings(&s, SIGNING_KEY).expect("local storage");
    assert!(!storage.is_s3());
    storage
}

/// Writes `size` pseudo-random bytes (xorshift) to `path` and returns them.
fn generate(path: &Path, size: u64) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15 ^ size;
    let mut data = Vec::with_capacity(size as usize);
    while (data.len() as u64) < size {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        data.extend_from_slice(&state.to_le_bytes());
    }
    data.truncate(size as usize);
    std::fs::write(path, &data).expect("write the test file");
    data
}

fn unique_key(name: &str) -> String {
    format!("tests/{}/{name}", uuid::Uuid::new_v4().simple())
}

async fn read_all(storage: &Storage, key: &str) -> Vec<u8> {
    let (info, stream) = storage.get(key).await.expect("get").expect("object exists");
    let chunks: Vec<Bytes> = stream.try_collect().await.expect("stream");
    let data = chunks.concat();
    assert_eq!(info.size, data.len() as u64);
    data
}

/// Uploads a ~20 MiB file with `put_file`, checks the progress calls, then reads it back.
async fn big_round_trip(storage: &Storage) {
    let dir = TempDir::new("big");
    let file = dir.0.join("lesson.mp4");
    let data = generate(&file, BIG);
    let key = unique_key("lesson.mp4");
    let calls = Mutex::new(Vec::new());
    let progress = |sent: u64, total: u64| calls.lock().expect("lock").push((sent, total));
    let before = Utc::now() - chrono::Duration::seconds(5);

    let size = storage.put_file(&key, &file, &progress).await.expect("put_file");

    assert_eq!(size, BIG);
    let calls = calls.into_inner().expect("lock");
    assert_eq!(calls.len() as u64, BIG.div_ceil(PART_SIZE as u64), "one progress call per part: {calls:?}");
    assert!(calls.iter().all(|&(_, total)| total == BIG), "{calls:?}");
    assert!(calls.windows(2).all(|w| w[0].0 < w[1].0), "progress goes up: {calls:?}");
    assert_eq!(calls.first().map(|c| c.0), Some(PART_SIZE as u64));
    assert_eq!(calls.last(), Some(&(BIG, BIG)));

    let info = storage.head(&key).await.expect("head").expect("object exists");
    assert_eq!(info.size, BIG);
    assert!(info.last_modified >= before, "{info:?}");
    assert!(read_all(storage, &key).await == data, "bytes read back differ from the file");
    storage.delete(&key).await.expect("delete");
    assert_eq!(storage.head(&key).await.expect("head"), None);
}

/// `put_bytes`, small `put_file` (single PUT), head/get, missing objects, invalid keys.
async fn small_round_trip(storage: &Storage) {
    let key = unique_key("notes.pdf");
    let body = Bytes::from_static(b"%PDF-1.4 course notes");
    storage.put_bytes(&key, body.clone()).await.expect("put_bytes");
    let info = storage.head(&key).await.expect("head").expect("object exists");
    assert_eq!(info.size, body.len() as u64);
    assert_eq!(read_all(storage, &key).await, body.to_vec());

    let dir = TempDir::new("small");
    let file = dir.0.join("small.bin");
    let data = generate(&file, 100_000);
    let small = unique_key("small.bin");
    let calls = Mutex::new(Vec::new());
    let progress = |sent: u64, total: u64| calls.lock().expect("lock").push((sent, total));
    assert_eq!(storage.put_file(&small, &file, &progress).await.expect("put_file"), 100_000);
    assert_eq!(calls.into_inner().expect("lock"), vec![(100_000, 100_000)]);
    assert!(read_all(storage, &small).await == data);

    let empty = dir.0.join("empty.txt");
    std::fs::write(&empty, b"").expect("write");
    let empty_key = unique_key("empty.txt");
    assert_eq!(storage.put_file(&empty_key, &empty, &|_, _| {}).await.expect("put_file"), 0);
    assert_eq!(storage.head(&empty_key).await.expect("head").map(|i| i.size), Some(0));

    let missing = unique_key("missing.mp4");
    assert_eq!(storage.head(&missing).await.expect("head"), None);
    assert!(storage.get(&missing).await.expect("get").is_none());

    assert!(storage.put_bytes("../escape", body.clone()).await.is_err());
    assert!(storage.head("a//b").await.is_err());
    assert!(storage.put_file("/abs", &file, &|_, _| {}).await.is_err());
    assert!(storage.put_file(&unique_key("x"), &dir.0.join("no-such-file"), &|_, _| {}).await.is_err());

    for key in [key, small, empty_key] {
        storage.delete(&key).await.expect("delete");
    }
}

#[tokio::test]
async fn local_put_file_big_with_progress_and_round_trip() {
    let root = TempDir::new("local-big");
    let storage = local(&root.0);
    big_round_trip(&storage).await;
}

#[tokio::test]
async fn local_small_objects_and_local_path() {
    let root = TempDir::new("local-small");
    let storage = local(&root.0);
    small_round_trip(&storage).await;

    storage.put_bytes("c/1/v.mp4", Bytes::from_static(b"video")).await.expect("put");
    let path = storage.local_path("c/1/v.mp4").expect("a local path");
    assert!(path.starts_with(std::fs::canonicalize(root.0.join("media")).expect("root")));
    assert_eq!(std::fs::read(&path).expect("the file is there"), b"video");
    assert_eq!(storage.local_path("../../etc/passwd"), None);
}

#[tokio::test]
async fn local_signed_url_verify_and_deny() {
    let root = TempDir::new("local-url");
    let storage = local(&root.0);
    let key = "courses/7/lesson-2.mp4";
    let now = Utc::now();
    let url =
        storage.signed_url(key, Duration::from_secs(300), "https://shop.example", now).await.expect("url");

    let (path, query) = url.split_once('?').expect("a query");
    assert_eq!(path, format!("https://shop.example/media/private/{key}"));
    let param = |name: &str| {
        query.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))).expect("parameter").to_owned()
    };
    let expires: i64 = param("expires").parse().expect("expires is a number");
    let signature = param("signature");
    assert_eq!(expires, now.timestamp() + 300);

    assert_eq!(storage.verify_local_url(key, expires, &signature, now), Ok(()));
    let later = now + chrono::Duration::seconds(301);
    assert_eq!(storage.verify_local_url(key, expires, &signature, later), Err(UrlError::Expired));
    assert_eq!(
        storage.verify_local_url("courses/7/lesson-3.mp4", expires, &signature, now),
        Err(UrlError::BadSignature)
    );
    assert_eq!(storage.verify_local_url(key, expires + 86_400, &signature, now), Err(UrlError::BadSignature));
    let flipped: String = signature.chars().rev().collect();
    assert_eq!(storage.verify_local_url(key, expires, &flipped, now), Err(UrlError::BadSignature));
    assert_eq!(storage.verify_local_url(key, expires, "", now), Err(UrlError::BadSignature));

    assert!(storage.signed_url(key, Duration::from_secs(901), "https://shop.example", now).await.is_err());
}

#[tokio::test]
async fn local_settings_create_the_root_and_name_the_setting() {
    let root = TempDir::new("local-settings");
    let nested = root.0.join("a/b/c");
    let mut s = settings(StorageBackend::Local);
    s.local_root = nested.clone();
    Storage::from_settings(&s, SIGNING_KEY).expect("creates the directory");
    assert!(nested.is_dir());

    let file = root.0.join("a-file");
    std::fs::write(&file, b"x").expect("write");
    s.local_root = file.join("below");
    let err = format!("{:#}", Storage::from_settings(&s, SIGNING_KEY).expect_err("cannot create"));
    assert!(err.contains("storage.local_root"), "{err}");
}

#[tokio::test]
async fn s3_put_file_big_with_progress_and_round_trip() {
    big_round_trip(&s3()).await;
}

#[tokio::test]
async fn s3_small_objects() {
    let storage = s3();
    small_round_trip(&storage).await;
    assert_eq!(storage.local_path("c/1/v.mp4"), None);
    assert_eq!(storage.verify_local_url("c/1/v.mp4", 0, "00", Utc::now()), Err(UrlError::NotLocal));
}

#[tokio::test]
async fn s3_presigned_get_works() {
    let storage = s3();
    let key = unique_key("handout.pdf");
    let body = Bytes::from_static(b"%PDF-1.4 presigned");
    storage.put_bytes(&key, body.clone()).await.expect("put");
    let url = storage.signed_url(&key, Duration::from_secs(60), "unused", Utc::now()).await.expect("url");
    assert!(url.contains("X-Amz-Signature="), "{url}");

    let response = reqwest::get(&url).await.expect("GET");
    assert_eq!(response.status(), 200, "{url}");
    let content_type =
        response.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(content_type.as_deref(), Some("application/pdf"));
    assert_eq!(response.bytes().await.expect("body"), body);

    // The URL gives no access to another key, and no unsigned access at all.
    let other = url.replacen("handout.pdf", "other.pdf", 1);
    assert_eq!(reqwest::get(&other).await.expect("GET").status(), 403);
    let unsigned = url.split_once('?').expect("query").0;
    assert_eq!(reqwest::get(unsigned).await.expect("GET").status(), 403);
    storage.delete(&key).await.expect("delete");
}

#[tokio::test]
async fn s3_expired_presigned_url_is_refused() {
    let storage = s3();
    let key = unique_key("expiring.mp4");
    storage.put_bytes(&key, Bytes::from_static(b"soon gone")).await.expect("put");
    let url = storage.signed_url(&key, Duration::from_secs(1), "unused", Utc::now()).await.expect("url");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let response = reqwest::get(&url).await.expect("GET");
    assert_eq!(response.status(), 403);
    let text = response.text().await.expect("body");
    assert!(text.contains("AccessDenied"), "{text}");
    storage.delete(&key).await.expect("delete");
}

#[tokio::test]
async fn s3_altered_presigned_signature_is_refused() {
    let storage = s3();
    let key = unique_key("secret.zip");
    storage.put_bytes(&key, Bytes::from_static(b"PK")).await.expect("put");
    let url = storage.signed_url(&key, Duration::from_secs(60), "unused", Utc::now()).await.expect("url");
    let (head, signature) = url.split_once("X-Amz-Signature=").expect("a signature");
    let (signature, tail) = signature.split_at(64);
    let mut altered = signature.as_bytes().to_vec();
    altered[0] = if altered[0] == b'0' { b'1' } else { b'0' };
    let altered = format!("{head}X-Amz-Signature={}{tail}", String::from_utf8(altered).expect("hex"));
    assert_ne!(altered, url);
    assert_eq!(reqwest::get(&altered).await.expect("GET").status(), 403);
    // A longer lifetime than signed is refused too.
    let stretched = url.replacen("X-Amz-Expires=60", "X-Amz-Expires=600", 1);
    assert_ne!(stretched, url);
    assert_eq!(reqwest::get(&stretched).await.expect("GET").status(), 403);
    // The untouched URL still works.
    assert_eq!(reqwest::get(&url).await.expect("GET").status(), 200);
    storage.delete(&key).await.expect("delete");
}

#[test]
fn s3_settings_errors_name_the_setting() {
    let mut s = settings(StorageBackend::S3);
    s.s3_bucket = "b".into();
    s.s3_endpoint = "ftp://example".into();
    let err = format!("{:#}", Storage::from_settings(&s, SIGNING_KEY).expect_err("bad endpoint"));
    assert!(err.contains("storage.s3_endpoint"), "{err}");
    s.s3_endpoint = "https://s3.example".into();
    s.s3_access_key_id = "id".into();
    let err = format!("{:#}", Storage::from_settings(&s, SIGNING_KEY).expect_err("no secret"));
    assert!(err.contains("storage.s3_secret_access_key"), "{err}");
}
