//! The key pairs: the app private key (signs requests) and Alipay's public key (verifies
//! notifies and responses). In simulator mode both are generated once and kept on disk, so
//! every process on the machine and every restart agree.
use std::path::Path;

use anyhow::Context as _;
use secrecy::ExposeSecret;
use shop_alipay::gateway::AlipayGateway;
use shop_alipay::{AlipayPublicKey, AppPrivateKey};

use crate::config::{AlipayMode, AlipaySettings};

#[derive(Clone)]
pub(super) struct Keys {
    pub app_private_key: AppPrivateKey,
    pub app_public_key: AlipayPublicKey,
    pub alipay_public_key: AlipayPublicKey,
    /// The simulator's own "Alipay" key pair.
    pub simulator: Option<AlipayGateway>,
}

pub(super) fn text_or_file(text: &str, file: &str, what: &str) -> anyhow::Result<Option<String>> {
    if !text.trim().is_empty() {
        return Ok(Some(text.to_owned()));
    }
    if file.is_empty() {
        return Ok(None);
    }
    std::fs::read_to_string(file).map(Some).with_context(|| format!("{what}: cannot read {file}"))
}

/// Reads a PKCS#8 key kept by the simulator, or makes and keeps a new one.
fn kept_key(dir: &Path, name: &str) -> anyhow::Result<AppPrivateKey> {
    let text = kept_text(dir, name, || {
        let key = AppPrivateKey::generate().context("generating a simulator key")?;
        Ok(key.to_pkcs8_base64().context("encoding a simulator key")?.expose_secret().to_owned())
    })?;
    AppPrivateKey::parse(&text).with_context(|| format!("simulator key {}", dir.join(name).display()))
}

/// Reads a secret kept by a simulator in `dir`, or makes one with `make` and keeps it (mode
/// 0600), so every process on the machine and every restart agree.
pub(super) fn kept_text(
    dir: &Path,
    name: &str,
    make: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    let path = dir.join(name);
    if let Ok(text) = std::fs::read_to_string(&path) {
        return Ok(text);
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let text = make()?;
    write_private(&path, &text)?;
    Ok(text)
}

#[cfg(unix)]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("writing {}", tmp.display()))?;
    file.write_all(text.as_bytes())?;
    std::fs::rename(&tmp, path).with_context(|| format!("writing {}", path.display()))
}

#[cfg(not(unix))]
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

impl Keys {
    pub fn load(a: &AlipaySettings) -> anyhow::Result<Self> {
        let app_text = text_or_file(
            a.app_private_key.expose_secret(),
            &a.app_private_key_file,
            "alipay.app_private_key",
        )?;
        let alipay_text =
            text_or_file(&a.alipay_public_key, &a.alipay_public_key_file, "alipay.alipay_public_key")?;
        let (app_private_key, alipay_public_key, simulator) = match a.mode {
            AlipayMode::Gateway => {
                let app = app_text.context("alipay.app_private_key (or app_private_key_file) is not set")?;
                let alipay =
                    alipay_text.context("alipay.alipay_public_key (or alipay_public_key_file) is not set")?;
                let app =
                    AppPrivateKey::parse(&app).map_err(|e| anyhow::anyhow!("alipay.app_private_key: {e}"))?;
                let alipay = AlipayPublicKey::parse(&alipay)
                    .map_err(|e| anyhow::anyhow!("alipay.alipay_public_key: {e}"))?;
                (app, alipay, None)
            }
            AlipayMode::Simulator => {
                let app = match app_text {
                    Some(text) => AppPrivateKey::parse(&text)
                        .map_err(|e| anyhow::anyhow!("alipay.app_private_key: {e}"))?,
                    None => kept_key(&a.simulator_key_dir, "app_private_key.pkcs8.b64")?,
                };
                let alipay_key = kept_key(&a.simulator_key_dir, "simulator_alipay_private_key.pkcs8.b64")?;
                let pkcs8 = alipay_key.to_pkcs8_base64().context("simulator key")?;
                let alipay =
                    AlipayGateway::from_private_key(pkcs8.expose_secret()).context("simulator key")?;
                (app, alipay.public_key().clone(), Some(alipay))
            }
        };
        let app_public_key = app_private_key.public_key().context("app public key")?;
        Ok(Keys { app_private_key, app_public_key, alipay_public_key, simulator })
    }
}
