//! The progress bars of the long commands, drawn on a terminal only.
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What a bar counts, which decides how it shows its position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counting {
    /// Bytes (an upload): sizes, percentage and time left.
    Bytes,
    /// Things (emails, jobs): `done/total`.
    Items,
}

/// A bar labelled `message`, hidden when standard error is not a terminal (piped output gets
/// the summary lines alone).
pub fn bar(message: &'static str, counting: Counting) -> ProgressBar {
    let template = match counting {
        Counting::Bytes => "{msg} [{bar:40}] {bytes}/{total_bytes} {percent}% ({eta})",
        Counting::Items => "{msg} [{bar:40}] {pos}/{len}",
    };
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(message);
    if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}
