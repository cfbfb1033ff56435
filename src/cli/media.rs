//! `course-shop media put`: uploading course media.
use std::path::PathBuf;

use clap::Subcommand;
use shop_app::config::Settings;
use shop_app::delivery::{self, MediaTarget};

use super::progress::{self, Counting};

#[derive(Debug, Subcommand)]
pub enum MediaCommand {
    /// Upload FILE for COURSE.
    Put {
        /// Course id.
        course: i64,
        /// The file.
        file: PathBuf,
        /// The section whose video (or document) this is.
        #[arg(long, conflicts_with_all = ["material", "version"])]
        section: Option<i64>,
        /// The name of a downloadable material (e.g. slides, ebook, code).
        #[arg(long, requires = "version")]
        material: Option<String>,
        /// The material's version (e.g. 1, 2, 2026-11).
        #[arg(long, requires = "material")]
        version: Option<String>,
    },
}

pub async fn run(command: MediaCommand, settings: Settings) -> anyhow::Result<()> {
    let MediaCommand::Put { course, file, section, material, version } = command;
    let target = match (section, material, version) {
        (Some(id), None, None) => MediaTarget::Section(id),
        (None, Some(name), Some(version)) => MediaTarget::Material { name, version },
        _ => anyhow::bail!("say where the file goes: --section ID, or --material NAME --version V"),
    };
    let ctx = super::operator_context(settings).await?;
    let bar = progress::bar("uploading", Counting::Bytes);
    let progress = |sent: u64, total: u64| {
        bar.set_length(total);
        bar.set_position(sent);
    };
    let uploaded = delivery::put_media(&ctx.delivery(), course, &file, target, &progress).await?;
    bar.finish_and_clear();
    println!("stored {} ({} bytes)", uploaded.key, uploaded.size);
    Ok(())
}
