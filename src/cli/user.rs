//! `course-shop user ...`: accounts.
use std::io::Read as _;

use clap::Subcommand;
use shop_app::accounts::{self, AddUser};
use shop_app::config::Settings;

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account. The password is read from standard input (without echo on a
    /// terminal; the first line when piped).
    Add {
        /// Username: 3 to 32 letters, digits, '_', '-', '.'.
        username: String,
        /// Email address.
        #[arg(long)]
        email: Option<String>,
        /// Mobile number.
        #[arg(long)]
        mobile: Option<String>,
        /// Make the account an administrator.
        #[arg(long)]
        admin: bool,
    },
}

pub async fn run(command: UserCommand, settings: Settings) -> anyhow::Result<()> {
    match command {
        UserCommand::Add { username, email, mobile, admin } => {
            let password = read_password()?;
            let ctx = super::operator_context(settings).await?;
            let user =
                accounts::add_user(&ctx.accounts(), AddUser { username, email, mobile, password, admin })
                    .await?;
            println!("created user {} (id {}, role {})", user.username, user.id, user.role.as_str());
            Ok(())
        }
    }
}

fn read_password() -> anyhow::Result<secrecy::SecretString> {
    use std::io::IsTerminal as _;
    let text = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the two passwords differ");
        first
    } else {
        let mut input = String::new();
        std::io::stdin().read_to_string(&mut input)?;
        input.lines().next().unwrap_or_default().to_owned()
    };
    Ok(secrecy::SecretString::from(text))
}
