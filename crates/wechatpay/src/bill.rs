//! The trade bill (交易账单): `GET /v3/bill/tradebill?bill_date=…&bill_type=ALL` (signed like
//! every v3 call) answers `download_url` and the SHA1 `hash_value` of the file; the file is
//! downloaded with a signed `GET` of the URL's path and query (WeChat Pay does not sign that
//! answer: the hash is what proves it) and is a CSV whose every value starts with a backtick:
//!
//! ```text
//! 交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注
//! `2026-11-29 10:15:20,`wxd678efh567hg6787,`1900000109,`0,`,`4200000001202611290000000001,`CS…,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`SUCCESS,`OTHERS,`CNY,`99.00,`0.00,`0,`0,`0.00,`0.00,`,`,`Python 全栈开发,`,`0.59000,`0.60%,`99.00,`0.00,`
//! 总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额
//! `1,`99.00,`0.00,`0.00,`0.59000,`99.00,`0.00
//! ```
//!
//! Columns are found by their header names; `交易状态` `SUCCESS` is a payment (`订单金额`),
//! `REFUND` a refund (`申请退款金额`, `商户退款单号`); amounts are yuan read by the one amount
//! rule (`shop-yuan`). The file is read line by line (bounded memory); a line that is not UTF-8,
//! a value without its backtick, a row with another number of fields than the header, an
//! unreadable amount or a missing summary (a truncated file) refuse the whole bill.
use std::io::BufRead;

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::beijing;

/// The answer of `GET /v3/bill/tradebill`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TradeBillAnswer {
    /// `SHA1`.
    pub hash_type: String,
    /// The hex SHA1 of the file.
    pub hash_value: String,
    /// Where to download it (a signed `GET`).
    pub download_url: String,
}

/// The path and query of the trade bill call for `day`.
#[must_use]
pub fn tradebill_path(day: NaiveDate) -> String {
    format!("/v3/bill/tradebill?bill_date={}&bill_type=ALL", day.format("%Y-%m-%d"))
}

/// The header row of a trade bill of type `ALL`, as WeChat Pay publishes it.
pub const HEADER: [&str; 27] = [
    "交易时间",
    "公众账号ID",
    "商户号",
    "特约商户号",
    "设备号",
    "微信订单号",
    "商户订单号",
    "用户标识",
    "交易类型",
    "交易状态",
    "付款银行",
    "货币种类",
    "应结订单金额",
    "代金券金额",
    "微信退款单号",
    "商户退款单号",
    "退款金额",
    "充值券退款金额",
    "退款类型",
    "退款状态",
    "商品名称",
    "商户数据包",
    "手续费",
    "费率",
    "订单金额",
    "申请退款金额",
    "费率备注",
];

/// The header row of the summary after the rows.
pub const SUMMARY_HEADER: [&str; 7] = [
    "总交易单数",
    "应结订单总金额",
    "退款总金额",
    "充值券退款总金额",
    "手续费总金额",
    "订单总金额",
    "申请退款总金额",
];

/// What a bill row is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillKind {
    /// `SUCCESS`: a payment.
    Payment,
    /// `REFUND`: a refund.
    Refund,
}

/// One row of the bill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillLine {
    /// Payment or refund.
    pub kind: BillKind,
    /// `微信订单号`.
    pub transaction_id: String,
    /// `商户订单号`.
    pub out_trade_no: String,
    /// `订单金额` of a payment, `申请退款金额` of a refund, in fen.
    pub amount_fen: i64,
    /// `商户退款单号` of a refund.
    pub out_refund_no: Option<String>,
    /// `交易时间`.
    pub at: Option<DateTime<Utc>>,
    /// `商品名称`.
    pub description: String,
}

/// The bill could not be read: nothing in it may be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BillError {
    /// The file's SHA1 is not the announced `hash_value`.
    #[error("the bill's SHA1 is {actual}, the announced hash_value is {expected}")]
    Hash {
        /// Announced.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// The announced hash is not SHA1.
    #[error("hash_type {0:?} is not SHA1")]
    HashType(String),
    /// A line does not have the published format.
    #[error("bill line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: u64,
        /// What is wrong.
        reason: String,
    },
    /// Reading or storing the file failed.
    #[error("reading the bill: {0}")]
    Io(String),
    /// A call failed (the bill call, or the download).
    #[error(transparent)]
    Api(#[from] crate::client::ApiError),
}

/// The values of one row: split on `,` before a backtick, each value without its backtick.
fn split_row(line: &str) -> Result<Vec<&str>, String> {
    let Some(rest) = line.strip_prefix('`') else {
        return Err("a value without its leading backtick".into());
    };
    Ok(rest.split(",`").collect())
}

fn fen(name: &str, text: &str) -> Result<i64, String> {
    shop_yuan::parse_fen(text).map_err(|e| format!("{name} {text:?}: {}", e.as_str()))
}

/// Reads a trade bill (UTF-8, an optional BOM), line by line, handing each row to `on_line`.
/// Returns the number of rows.
///
/// # Errors
/// [`BillError::Malformed`] (see the module docs), [`BillError::Io`].
pub fn read_trade_bill<R: BufRead>(
    mut reader: R,
    mut on_line: impl FnMut(BillLine),
) -> Result<u64, BillError> {
    let mut raw = Vec::new();
    let mut number = 0u64;
    let mut columns: Option<(usize, [usize; 9])> = None;
    let mut summary_seen = false;
    let mut rows = 0u64;
    loop {
        raw.clear();
        let n = reader.read_until(b'\n', &mut raw).map_err(|e| BillError::Io(e.to_string()))?;
        if n == 0 {
            break;
        }
        number += 1;
        let malformed = |reason: String| BillError::Malformed { line: number, reason };
        let text = std::str::from_utf8(&raw).map_err(|_| malformed("not UTF-8 text".into()))?;
        let text = text.trim_start_matches('\u{feff}').trim_end_matches(['\r', '\n']);
        if text.trim().is_empty() {
            continue;
        }
        if summary_seen {
            // The summary's values: checked for shape only.
            let values = split_row(text).map_err(malformed)?;
            if values.len() != SUMMARY_HEADER.len() {
                return Err(malformed(format!(
                    "{} summary values, expected {}",
                    values.len(),
                    SUMMARY_HEADER.len()
                )));
            }
            continue;
        }
        let Some((
            width,
            [time, transaction_id, out_trade_no, state, refund_no, subject, amount, refund_amount, _],
        )) = columns
        else {
            let names: Vec<&str> = text.split(',').collect();
            let find = |name: &str| {
                names.iter().position(|n| *n == name).ok_or_else(|| malformed(format!("no column {name}")))
            };
            columns = Some((
                names.len(),
                [
                    find("交易时间")?,
                    find("微信订单号")?,
                    find("商户订单号")?,
                    find("交易状态")?,
                    find("商户退款单号")?,
                    find("商品名称")?,
                    find("订单金额")?,
                    find("申请退款金额")?,
                    0,
                ],
            ));
            continue;
        };
        if text.starts_with(SUMMARY_HEADER[0]) {
            summary_seen = true;
            continue;
        }
        let values = split_row(text).map_err(malformed)?;
        if values.len() != width {
            return Err(malformed(format!("{} values, the header has {width}", values.len())));
        }
        let (kind, amount_fen, out_refund_no) = match values[state] {
            "SUCCESS" => (BillKind::Payment, fen("订单金额", values[amount]).map_err(malformed)?, None),
            "REFUND" => (
                BillKind::Refund,
                fen("申请退款金额", values[refund_amount]).map_err(malformed)?,
                Some(values[refund_no].to_owned()).filter(|r| !r.is_empty() && r != "0"),
            ),
            "REVOKED" => continue,
            other => return Err(malformed(format!("交易状态 {other:?}"))),
        };
        if values[transaction_id].is_empty() || values[out_trade_no].is_empty() {
            return Err(malformed("a row without 微信订单号 or 商户订单号".into()));
        }
        let at = NaiveDateTime::parse_from_str(values[time], "%Y-%m-%d %H:%M:%S")
            .map_err(|_| malformed(format!("交易时间 {:?}", values[time])))?
            .and_local_timezone(beijing())
            .single()
            .map(|t| t.with_timezone(&Utc));
        rows += 1;
        on_line(BillLine {
            kind,
            transaction_id: values[transaction_id].to_owned(),
            out_trade_no: values[out_trade_no].to_owned(),
            amount_fen,
            out_refund_no,
            at,
            description: values[subject].to_owned(),
        });
    }
    if columns.is_none() {
        return Err(BillError::Malformed { line: number, reason: "no header row".into() });
    }
    if !summary_seen {
        return Err(BillError::Malformed { line: number, reason: "no summary: truncated".into() });
    }
    Ok(rows)
}

/// Incremental SHA1 of the downloaded bytes, compared with the announced `hash_value`.
pub struct HashCheck {
    context: aws_lc_rs::digest::Context,
    expected: String,
}

impl HashCheck {
    /// A check against `answer`'s hash.
    ///
    /// # Errors
    /// [`BillError::HashType`] unless the hash is SHA1.
    pub fn new(answer: &TradeBillAnswer) -> Result<Self, BillError> {
        if !answer.hash_type.eq_ignore_ascii_case("SHA1") {
            return Err(BillError::HashType(answer.hash_type.clone()));
        }
        Ok(HashCheck {
            context: aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY),
            expected: answer.hash_value.to_ascii_lowercase(),
        })
    }

    /// Adds downloaded bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.context.update(bytes);
    }

    /// Checks the whole file.
    ///
    /// # Errors
    /// [`BillError::Hash`] when it differs.
    pub fn finish(self) -> Result<(), BillError> {
        let actual = sha1_hex_of(self.context);
        if actual == self.expected {
            Ok(())
        } else {
            Err(BillError::Hash { expected: self.expected, actual })
        }
    }
}

fn sha1_hex_of(context: aws_lc_rs::digest::Context) -> String {
    context.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The hex SHA1 of `bytes` (what `hash_value` announces).
#[must_use]
pub fn sha1_hex(bytes: &[u8]) -> String {
    let mut context = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY);
    context.update(bytes);
    sha1_hex_of(context)
}

/// A trade bill as WeChat Pay serves it (for the simulator and the tests): header, rows with
/// backticks, summary.
#[must_use]
pub fn write_trade_bill(app_id: &str, mch_id: &str, lines: &[BillLine]) -> String {
    let yuan = shop_yuan::format_fen;
    let mut out = HEADER.join(",");
    out.push_str("\r\n");
    let (mut paid, mut refunded) = (0i64, 0i64);
    for l in lines {
        let at =
            l.at.map(|t| t.with_timezone(&beijing()).format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default();
        let (state, order_amount, refund_amount, refund_id, refund_no, refund_state) = match l.kind {
            BillKind::Payment => {
                paid += l.amount_fen;
                ("SUCCESS", yuan(l.amount_fen), yuan(0), "0".to_owned(), "0".to_owned(), "")
            }
            BillKind::Refund => {
                refunded += l.amount_fen;
                (
                    "REFUND",
                    yuan(0),
                    yuan(l.amount_fen),
                    format!("50000000{}", l.transaction_id.chars().rev().take(10).collect::<String>()),
                    l.out_refund_no.clone().unwrap_or_default(),
                    "SUCCESS",
                )
            }
        };
        let refund_fen = if l.kind == BillKind::Refund { yuan(l.amount_fen) } else { yuan(0) };
        let values: [&str; 27] = [
            &at,
            app_id,
            mch_id,
            "0",
            "",
            &l.transaction_id,
            &l.out_trade_no,
            "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
            "NATIVE",
            state,
            "OTHERS",
            "CNY",
            &order_amount,
            "0.00",
            &refund_id,
            &refund_no,
            &refund_amount,
            "0.00",
            if l.kind == BillKind::Refund { "ORIGINAL" } else { "" },
            refund_state,
            &l.description,
            "",
            "0.00000",
            "0.60%",
            if l.kind == BillKind::Payment { &order_amount } else { "0.00" },
            &refund_fen,
            "",
        ];
        let row: Vec<String> = values.iter().map(|v| format!("`{v}")).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out.push_str(&SUMMARY_HEADER.join(","));
    out.push_str("\r\n");
    out.push_str(&format!(
        "`{},`{},`{},`0.00,`0.00000,`{},`{}\r\n",
        lines.len(),
        yuan(paid),
        yuan(refunded),
        yuan(paid),
        yuan(refunded)
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A bill as WeChat Pay publishes it (type ALL: a payment and its refund).
    const FIXTURE: &str = "\u{feff}交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注\r\n\
`2026-11-29 10:15:20,`wxd678efh567hg6787,`1900000109,`0,`,`4200000001202611290000000001,`CS2026112910150011223344556677AA,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`SUCCESS,`OTHERS,`CNY,`99.00,`0.00,`0,`0,`0.00,`0.00,`,`,`Python 全栈开发,`,`0.59000,`0.60%,`99.00,`0.00,`\r\n\
`2026-11-29 12:00:03,`wxd678efh567hg6787,`1900000109,`0,`,`4200000001202611290000000001,`CS2026112910150011223344556677AA,`oUpF8uMuAJO_M2pxb1Q9zNjWeS6o,`NATIVE,`REFUND,`OTHERS,`CNY,`0.00,`0.00,`50300000012026112900000000001,`CS2026112910150011223344556677AAR1,`19.90,`0.00,`ORIGINAL,`SUCCESS,`Python 全栈开发,`,`-0.12000,`0.60%,`0.00,`19.90,`\r\n\
总交易单数,应结订单总金额,退款总金额,充值券退款总金额,手续费总金额,订单总金额,申请退款总金额\r\n\
`2,`99.00,`19.90,`0.00,`0.47000,`99.00,`19.90\r\n";

    fn read(text: &[u8]) -> Result<Vec<BillLine>, BillError> {
        let mut lines = Vec::new();
        read_trade_bill(text, |l| lines.push(l))?;
        Ok(lines)
    }

    #[test]
    fn reads_the_published_format() {
        let lines = read(FIXTURE.as_bytes()).expect("reads");
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].kind, BillKind::Payment);
        assert_eq!(lines[0].transaction_id, "4200000001202611290000000001");
        assert_eq!(lines[0].out_trade_no, "CS2026112910150011223344556677AA");
        assert_eq!(lines[0].amount_fen, 9900);
        assert_eq!(lines[0].out_refund_no, None);
        assert_eq!(lines[0].description, "Python 全栈开发");
        assert_eq!(lines[0].at.map(|t| t.to_rfc3339()), Some("2026-11-29T02:15:20+00:00".into()));
        assert_eq!(lines[1].kind, BillKind::Refund);
        assert_eq!(lines[1].amount_fen, 1990);
        assert_eq!(lines[1].out_refund_no.as_deref(), Some("CS2026112910150011223344556677AAR1"));
    }

    #[test]
    fn refuses_what_is_not_the_format() {
        // Truncated (no summary).
        let cut = &FIXTURE[..FIXTURE.find("总交易单数").expect("summary")];
        assert!(read(cut.as_bytes()).expect_err("truncated").to_string().contains("truncated"));
        // A malformed amount, a missing backtick, a missing value, not UTF-8, unknown state.
        for bad in [
            FIXTURE.replace("`0.60%,`99.00,", "`0.60%,`99.0.0,"),
            FIXTURE.replace(",`NATIVE,`SUCCESS", ",NATIVE,`SUCCESS"),
            FIXTURE.replace("`0.60%,`99.00,`0.00,`\r\n", "`0.60%,`99.00,`0.00\r\n"),
            FIXTURE.replace("`SUCCESS,`OTHERS", "`PAYING,`OTHERS"),
        ] {
            let err = read(bad.as_bytes()).expect_err("refused");
            assert!(matches!(err, BillError::Malformed { line: 2, .. }), "{err}");
        }
        let gbk = encoding_gbk_like(FIXTURE);
        assert!(matches!(read(&gbk), Err(BillError::Malformed { .. })));
    }

    /// Bytes that are not UTF-8 (as a GBK file would be).
    fn encoding_gbk_like(text: &str) -> Vec<u8> {
        text.replace("全栈", "\u{0}")
            .into_bytes()
            .into_iter()
            .map(|b| if b == 0 { 0xC8 } else { b })
            .collect()
    }

    #[test]
    fn the_written_bill_reads_back_and_the_hash_is_checked() {
        let lines = read(FIXTURE.as_bytes()).expect("reads");
        let text = write_trade_bill("wxd678efh567hg6787", "1900000109", &lines);
        assert_eq!(read(text.as_bytes()).expect("reads back"), lines);
        let answer = TradeBillAnswer {
            hash_type: "SHA1".into(),
            hash_value: sha1_hex(text.as_bytes()),
            download_url: "https://api.mch.weixin.qq.com/v3/billdownload/file?token=x".into(),
        };
        let mut check = HashCheck::new(&answer).expect("sha1");
        check.update(text.as_bytes());
        check.finish().expect("same hash");
        let mut check = HashCheck::new(&answer).expect("sha1");
        check.update(&text.as_bytes()[1..]);
        assert!(matches!(check.finish(), Err(BillError::Hash { .. })));
        // A known answer: SHA1("abc").
        assert_eq!(sha1_hex(b"abc"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    }
}
