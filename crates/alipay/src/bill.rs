//! The trade statement (对账单): `alipay.data.dataservice.bill.downloadurl.query` with
//! `bill_type = trade` answers a signed, short-lived `bill_download_url`; the file there is a
//! zip of GBK-encoded CSV files, of which the detail file (`<pid>_<yyyymmdd>_业务明细.csv`)
//! lists every trade (业务类型 `交易`) and refund (`退款`) of the day:
//!
//! ```text
//! #支付宝业务明细查询
//! #账号：[20880000000000010156]
//! #起始日期：[2026年11月29日 00:00:00]   终止日期：[2026年11月30日 00:00:00]
//! #-----------------------------------------业务明细列表----------------------------------------
//! 支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,…,退款批次号/请求号,服务费（元）,分润（元）,备注
//! 2026112922001400001234567890<TAB>,CS20261129101500…<TAB>,交易<TAB>,Python 全栈开发<TAB>,2026-11-29 10:15:00<TAB>,2026-11-29 10:15:20<TAB>,…
//! #-----------------------------------------业务明细列表结束------------------------------------
//! #交易合计：1笔，商家实收共99.00元，商家优惠共0.00元
//! #退款合计：0笔，商家实收退款共0.00元，商家优惠退款共0.00元
//! #导出时间：[2026年11月30日 09:12:01]
//! ```
//!
//! Values are padded with a tab (`<TAB>` above; so spreadsheets keep long numbers as text) and trimmed here;
//! columns are found by their header names, never by position; amounts are yuan with two
//! decimals, read by the one amount rule (`shop-yuan`). Refund rows carry what went back as a
//! negative amount (`-0.01`), as Alipay's files do; a refund row that is not negative (or a
//! payment row that is) is refused. The file is
//! read line by line from the zip (bounded memory whatever its size); a line that is not GBK,
//! a row with another number of fields than the header, an unreadable amount, a missing end
//! marker (a truncated file) or totals that disagree with the rows refuse the whole statement.
use std::io::{BufRead, BufReader, Read, Seek};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use crate::amount::parse_yuan;
use crate::keys::AlipayPublicKey;
use crate::response::{GatewayError, check_response};
use crate::time::parse_beijing;

/// The method that answers a statement's download URL.
pub const BILL_METHOD: &str = "alipay.data.dataservice.bill.downloadurl.query";

/// The header names the shop reads (others are ignored).
mod column {
    pub const TRADE_NO: &str = "支付宝交易号";
    pub const OUT_TRADE_NO: &str = "商户订单号";
    pub const KIND: &str = "业务类型";
    pub const SUBJECT: &str = "商品名称";
    pub const FINISHED: &str = "完成时间";
    pub const AMOUNT: &str = "订单金额（元）";
    pub const REFUND_NO: &str = "退款批次号/请求号";
}

/// The header row of the detail file, as Alipay publishes it.
pub const DETAIL_HEADER: [&str; 25] = [
    "支付宝交易号",
    "商户订单号",
    "业务类型",
    "商品名称",
    "创建时间",
    "完成时间",
    "门店编号",
    "门店名称",
    "操作员",
    "终端号",
    "对方账户",
    "订单金额（元）",
    "商家实收（元）",
    "支付宝红包（元）",
    "集分宝（元）",
    "支付宝优惠（元）",
    "商家优惠（元）",
    "券核销金额（元）",
    "券名称",
    "商家红包消费金额（元）",
    "卡消费金额（元）",
    "退款批次号/请求号",
    "服务费（元）",
    "分润（元）",
    "备注",
];

const LIST_START: &str = "业务明细列表";
const LIST_END: &str = "业务明细列表结束";

/// What a statement line is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillKind {
    /// A payment (`交易`).
    Trade,
    /// A refund (`退款`).
    Refund,
}

impl BillKind {
    /// Alipay's word (`交易` / `退款`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            BillKind::Trade => "交易",
            BillKind::Refund => "退款",
        }
    }
}

/// One row of the detail file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BillLine {
    /// Payment or refund.
    pub kind: BillKind,
    /// `支付宝交易号`.
    pub trade_no: String,
    /// `商户订单号` (ours, or not).
    pub out_trade_no: String,
    /// `订单金额（元）` in fen, positive (a refund's amount is what went back).
    pub amount_fen: i64,
    /// `退款批次号/请求号` of a refund (our `out_request_no`, or the console's).
    pub refund_no: Option<String>,
    /// `完成时间`.
    pub finished_at: Option<DateTime<Utc>>,
    /// `商品名称`.
    pub subject: String,
}

/// What the whole detail file held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BillSummary {
    /// Payment rows.
    pub trades: u64,
    /// Refund rows.
    pub refunds: u64,
}

/// A statement could not be read: nothing in it may be used.
#[derive(Debug, thiserror::Error)]
pub enum BillError {
    /// The download URL could not be had.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// The file could not be downloaded or stored for reading.
    #[error("statement download failed: {0}")]
    Download(String),
    /// Not a readable zip (truncated or not a zip at all).
    #[error("the statement is not a readable zip file: {0}")]
    Zip(String),
    /// The zip holds no detail file.
    #[error("the statement zip holds no detail file (业务明细)")]
    NoDetail,
    /// A line is not GBK text.
    #[error("statement line {line}: not GBK-encoded text")]
    Encoding {
        /// 1-based line number in the detail file.
        line: u64,
    },
    /// A line does not have the published format.
    #[error("statement line {line}: {reason}")]
    Malformed {
        /// 1-based line number in the detail file.
        line: u64,
        /// What is wrong.
        reason: String,
    },
}

#[derive(Deserialize)]
struct UrlBody {
    bill_download_url: String,
}

/// Verifies a `bill.downloadurl.query` answer and returns its `bill_download_url`.
///
/// # Errors
/// [`GatewayError`]: an unsigned or badly signed answer, an error code (e.g.
/// `isp.bill_not_exist` while the day's statement is not ready), a URL that is not http(s).
pub fn parse_download_url_response(
    body: &str,
    alipay_public_key: &AlipayPublicKey,
) -> Result<String, GatewayError> {
    let r = check_response(body, BILL_METHOD, alipay_public_key)?;
    if !r.is_success() {
        return Err(GatewayError::Business {
            code: r.code.clone(),
            msg: r.msg.clone(),
            sub_code: r.sub_code.clone(),
            sub_msg: r.sub_msg.clone(),
            signed: r.signed,
        });
    }
    let u: UrlBody = r.parse()?;
    match url::Url::parse(&u.bill_download_url) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => Ok(u.bill_download_url),
        _ => Err(GatewayError::MalformedResponse("bill_download_url is not an http(s) URL".into())),
    }
}

/// `bill_date` as the call wants it (`yyyy-MM-dd`).
#[must_use]
pub fn bill_date(day: NaiveDate) -> String {
    day.format("%Y-%m-%d").to_string()
}

/// A zip entry name: UTF-8 when the zip says so (or it is valid UTF-8), GBK otherwise (what
/// Alipay's own zips use).
fn entry_name(raw: &[u8]) -> String {
    match std::str::from_utf8(raw) {
        Ok(s) => s.to_owned(),
        Err(_) => encoding_rs::GBK.decode_without_bom_handling(raw).0.into_owned(),
    }
}

/// Reads the trade statement zip: finds the detail file (`…业务明细.csv`, not the `(汇总)`
/// summary) and hands every row to `on_line`, in order.
///
/// # Errors
/// [`BillError`]; rows already handed over must then be discarded by the caller.
pub fn read_trade_bill_zip<R: Read + Seek>(
    zip: R,
    on_line: impl FnMut(BillLine),
) -> Result<BillSummary, BillError> {
    let mut archive = zip::ZipArchive::new(zip).map_err(|e| BillError::Zip(e.to_string()))?;
    let mut detail = None;
    for i in 0..archive.len() {
        let file = archive.by_index_raw(i).map_err(|e| BillError::Zip(e.to_string()))?;
        let name = entry_name(file.name_raw());
        if name.ends_with(".csv") && name.contains("业务明细") && !name.contains("汇总") {
            detail = Some(i);
            break;
        }
    }
    let index = detail.ok_or(BillError::NoDetail)?;
    let file = archive.by_index(index).map_err(|e| BillError::Zip(e.to_string()))?;
    read_detail_csv(BufReader::new(file), on_line)
}

/// Splits one CSV row (commas; double quotes around a field that holds one) and trims the
/// padding (spaces, tabs) around each value.
fn split_row(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            '"' if quoted => quoted = false,
            '"' if current.trim().is_empty() => {
                current.clear();
                quoted = true;
            }
            ',' if !quoted => fields.push(std::mem::take(&mut current).trim().to_owned()),
            c => current.push(c),
        }
    }
    if quoted {
        return Err("unterminated quoted field".into());
    }
    fields.push(current.trim().to_owned());
    Ok(fields)
}

/// A signed yuan amount (`-0.01` on refund rows) in fen, by the one amount rule.
fn signed_fen(text: &str) -> Result<i64, String> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let fen = parse_yuan(digits).map_err(|e| e.to_string())?;
    Ok(if negative { -fen } else { fen })
}

/// The number before `笔` after `label` in a totals comment (`#交易合计：2笔，商家实收共…元`,
/// `#退款合计：1笔，商家实收退款共-0.01元…`).
fn total_after(text: &str, label: &str) -> Option<u64> {
    let rest = &text[text.find(label)? + label.len()..];
    let rest = rest.trim_start_matches([':', '：']);
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Reads the detail CSV (GBK bytes), line by line.
///
/// # Errors
/// [`BillError::Encoding`], [`BillError::Malformed`] (see the module docs).
pub fn read_detail_csv<R: BufRead>(
    mut reader: R,
    mut on_line: impl FnMut(BillLine),
) -> Result<BillSummary, BillError> {
    let mut raw = Vec::new();
    let mut number = 0u64;
    let mut header: Option<Vec<String>> = None;
    let mut columns = [0usize; 7];
    let mut ended = false;
    // `#交易合计：N笔…` and `#退款合计：M笔…` after the end marker (two lines in Alipay's files).
    let (mut trade_total, mut refund_total): (Option<u64>, Option<u64>) = (None, None);
    let mut summary = BillSummary::default();
    loop {
        raw.clear();
        let n = reader
            .read_until(b'\n', &mut raw)
            .map_err(|e| BillError::Zip(format!("reading the detail file: {e}")))?;
        if n == 0 {
            break;
        }
        number += 1;
        let bytes = raw.strip_suffix(b"\n").unwrap_or(&raw);
        let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        let text = encoding_rs::GBK
            .decode_without_bom_handling_and_without_replacement(bytes)
            .ok_or(BillError::Encoding { line: number })?;
        let malformed = |reason: String| BillError::Malformed { line: number, reason };
        if text.trim().is_empty() {
            continue;
        }
        if let Some(comment) = text.strip_prefix('#') {
            if comment.contains(LIST_END) {
                ended = true;
            } else if comment.contains("交易合计") || comment.contains("退款合计") {
                for (label, total) in [("交易合计", &mut trade_total), ("退款合计", &mut refund_total)]
                {
                    if comment.contains(label) {
                        *total = Some(
                            total_after(comment, label)
                                .ok_or_else(|| malformed(format!("unreadable totals {comment:?}")))?,
                        );
                    }
                }
            } else if !comment.contains(LIST_START) && header.is_some() && !ended {
                return Err(malformed("a comment inside the list".into()));
            }
            continue;
        }
        if ended {
            return Err(malformed("a row after the end of the list".into()));
        }
        let fields = split_row(&text).map_err(malformed)?;
        let Some(names) = &header else {
            let find = |name: &str| {
                fields.iter().position(|f| f == name).ok_or_else(|| malformed(format!("no column {name}")))
            };
            columns = [
                find(column::TRADE_NO)?,
                find(column::OUT_TRADE_NO)?,
                find(column::KIND)?,
                find(column::SUBJECT)?,
                find(column::FINISHED)?,
                find(column::AMOUNT)?,
                find(column::REFUND_NO)?,
            ];
            header = Some(fields);
            continue;
        };
        if fields.len() != names.len() {
            return Err(malformed(format!("{} fields, the header has {}", fields.len(), names.len())));
        }
        let [trade_no, out_trade_no, kind, subject, finished, amount, refund_no] =
            columns.map(|i| fields[i].as_str());
        let kind = match kind {
            "交易" => BillKind::Trade,
            "退款" => BillKind::Refund,
            other => return Err(malformed(format!("业务类型 {other:?} is neither 交易 nor 退款"))),
        };
        if trade_no.is_empty() || out_trade_no.is_empty() {
            return Err(malformed("a row without 支付宝交易号 or 商户订单号".into()));
        }
        let fen = signed_fen(amount).map_err(|e| malformed(format!("{}: {e}", column::AMOUNT)))?;
        // Alipay's files show what went back negative (`-0.01` on a 退款 row): a refund that is
        // not negative, or a payment that is, is not the format.
        let amount_fen = match kind {
            BillKind::Trade if fen >= 0 => fen,
            BillKind::Refund if fen < 0 => -fen,
            BillKind::Trade => return Err(malformed("a payment with a negative amount".into())),
            BillKind::Refund => return Err(malformed("a refund whose amount is not negative".into())),
        };
        let finished_at = if finished.is_empty() {
            None
        } else {
            Some(parse_beijing(finished).map_err(|e| malformed(format!("{}: {e}", column::FINISHED)))?)
        };
        match kind {
            BillKind::Trade => summary.trades += 1,
            BillKind::Refund => summary.refunds += 1,
        }
        on_line(BillLine {
            kind,
            trade_no: trade_no.to_owned(),
            out_trade_no: out_trade_no.to_owned(),
            amount_fen,
            refund_no: Some(refund_no.to_owned()).filter(|r| !r.is_empty()),
            finished_at,
            subject: subject.to_owned(),
        });
    }
    let line = number;
    if header.is_none() {
        return Err(BillError::Malformed { line, reason: "no header row".into() });
    }
    if !ended {
        return Err(BillError::Malformed { line, reason: "the list has no end marker: truncated".into() });
    }
    for (total, rows, what) in
        [(trade_total, summary.trades, "payments"), (refund_total, summary.refunds, "refunds")]
    {
        if let Some(total) = total
            && total != rows
        {
            return Err(BillError::Malformed {
                line,
                reason: format!("the totals say {total} {what}, the list has {rows}"),
            });
        }
    }
    Ok(summary)
}

#[cfg(feature = "gateway")]
pub use writer::trade_bill_zip;

#[cfg(feature = "gateway")]
mod writer {
    use std::io::{Cursor, Write};

    use chrono::{DateTime, NaiveDate, Utc};

    use super::{BillKind, BillLine, DETAIL_HEADER};
    use crate::amount::format_yuan;
    use crate::time::{beijing, format_beijing};

    fn gbk(text: &str) -> Vec<u8> {
        encoding_rs::GBK.encode(text).0.into_owned()
    }

    /// A trade statement as Alipay serves it at `bill_download_url`: a zip of the GBK detail
    /// file (comments, header, tab-padded rows, end marker, totals) and its summary file,
    /// for the merchant `pid` and the day `day`.
    ///
    /// # Errors
    /// Writing the zip (in memory) failed.
    pub fn trade_bill_zip(
        pid: &str,
        day: NaiveDate,
        lines: &[BillLine],
        exported_at: DateTime<Utc>,
    ) -> Result<Vec<u8>, String> {
        let ymd = day.format("%Y%m%d");
        let start = day.format("%Y年%m月%d日 00:00:00");
        let end = day.succ_opt().unwrap_or(day).format("%Y年%m月%d日 00:00:00");
        let exported = exported_at.with_timezone(&beijing()).format("%Y年%m月%d日 %H:%M:%S");
        let mut detail = String::new();
        detail.push_str("#支付宝业务明细查询\r\n");
        detail.push_str(&format!("#账号：[{pid}0156]\r\n"));
        detail.push_str(&format!("#起始日期：[{start}]   终止日期：[{end}]\r\n"));
        detail.push_str("#-----------------------------------------业务明细列表----------------------------------------\r\n");
        detail.push_str(&DETAIL_HEADER.join(","));
        detail.push_str("\r\n");
        let (mut trades, mut refunds, mut income, mut outgo) = (0, 0, 0i64, 0i64);
        for l in lines {
            let signed = match l.kind {
                BillKind::Trade => {
                    trades += 1;
                    income += l.amount_fen;
                    l.amount_fen
                }
                BillKind::Refund => {
                    refunds += 1;
                    outgo += l.amount_fen;
                    -l.amount_fen
                }
            };
            let at = l.finished_at.map(format_beijing).unwrap_or_default();
            let amount = format_yuan(signed);
            let row: [&str; 25] = [
                &l.trade_no,
                &l.out_trade_no,
                l.kind.as_str(),
                &l.subject,
                &at,
                &at,
                "",
                "",
                "",
                "",
                "abc***@example.com",
                &amount,
                &amount,
                "0.00",
                "0.00",
                "0.00",
                "0.00",
                "0.00",
                "",
                "0.00",
                "0.00",
                l.refund_no.as_deref().unwrap_or_default(),
                "0.00",
                "0.00",
                "",
            ];
            let padded: Vec<String> = row.iter().map(|v| format!("{v}\t")).collect();
            detail.push_str(&padded.join(","));
            detail.push_str("\r\n");
        }
        detail.push_str("#-----------------------------------------业务明细列表结束------------------------------------\r\n");
        detail.push_str(&format!(
            "#交易合计：{trades}笔，商家实收共{}元，商家优惠共0.00元\r\n",
            format_yuan(income)
        ));
        detail.push_str(&format!(
            "#退款合计：{refunds}笔，商家实收退款共{}元，商家优惠退款共0.00元\r\n",
            format_yuan(-outgo)
        ));
        detail.push_str(&format!("#导出时间：[{exported}]\r\n"));

        let mut summary = String::new();
        summary.push_str("#支付宝业务汇总查询\r\n");
        summary.push_str(&format!("#账号：[{pid}0156]\r\n"));
        summary.push_str(&format!("#起始日期：[{start}]   终止日期：[{end}]\r\n"));
        summary.push_str("门店编号,门店名称,交易订单总笔数,退款订单总笔数,订单金额（元）,商家实收（元）\r\n");
        summary.push_str(&format!(
            "合计,,{trades},{refunds},{},{}\r\n",
            format_yuan(income - outgo),
            format_yuan(income - outgo)
        ));
        summary.push_str(&format!("#导出时间：[{exported}]\r\n"));

        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        let options =
            zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        for (name, text) in [
            (format!("{pid}0156_{ymd}_业务明细.csv"), detail),
            (format!("{pid}0156_{ymd}_业务明细(汇总).csv"), summary),
        ] {
            zip.start_file(name, options).map_err(|e| e.to_string())?;
            zip.write_all(&gbk(&text)).map_err(|e| e.to_string())?;
        }
        Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A detail file as Alipay publishes it (tab-padded values, comments, totals), GBK.
    fn fixture() -> Vec<u8> {
        let text = "#支付宝业务明细查询\r\n#账号：[20880000000000010156]\r\n#起始日期：[2026年11月29日 00:00:00]   终止日期：[2026年11月30日 00:00:00]\r\n#-----------------------------------------业务明细列表----------------------------------------\r\n支付宝交易号,商户订单号,业务类型,商品名称,创建时间,完成时间,门店编号,门店名称,操作员,终端号,对方账户,订单金额（元）,商家实收（元）,支付宝红包（元）,集分宝（元）,支付宝优惠（元）,商家优惠（元）,券核销金额（元）,券名称,商家红包消费金额（元）,卡消费金额（元）,退款批次号/请求号,服务费（元）,分润（元）,备注\r\n2026112922001400001234567890\t,CS2026112910150011223344556677AA\t,交易\t,Python 全栈开发\t,2026-11-29 10:15:00\t,2026-11-29 10:15:20\t,\t,\t,\t,\t,abc***@example.com\t,99.00\t,99.00\t,0.00\t,0.00\t,0.00\t,0.00\t,0.00\t,\t,0.00\t,0.00\t,\t,-0.59\t,0.00\t,\t\r\n2026112922001400001234567890\t,CS2026112910150011223344556677AA\t,退款\t,Python 全栈开发\t,2026-11-29 12:00:00\t,2026-11-29 12:00:03\t,\t,\t,\t,\t,abc***@example.com\t,-19.90\t,-19.90\t,0.00\t,0.00\t,0.00\t,0.00\t,0.00\t,\t,0.00\t,0.00\t,2026112921001004000123\t,0.12\t,0.00\t,\t\r\n#-----------------------------------------业务明细列表结束------------------------------------\r\n#交易合计：1笔，商家实收共99.00元，商家优惠共0.00元\r\n#退款合计：1笔，商家实收退款共-19.90元，商家优惠退款共0.00元\r\n#导出时间：[2026年11月30日 09:12:01]\r\n";
        encoding_rs::GBK.encode(text).0.into_owned()
    }

    fn read(bytes: &[u8]) -> Result<(Vec<BillLine>, BillSummary), BillError> {
        let mut lines = Vec::new();
        let summary = read_detail_csv(bytes, |l| lines.push(l))?;
        Ok((lines, summary))
    }

    #[test]
    fn reads_the_published_detail_format() {
        let (lines, summary) = read(&fixture()).expect("reads");
        assert_eq!(summary, BillSummary { trades: 1, refunds: 1 });
        assert_eq!(lines[0].kind, BillKind::Trade);
        assert_eq!(lines[0].trade_no, "2026112922001400001234567890");
        assert_eq!(lines[0].out_trade_no, "CS2026112910150011223344556677AA");
        assert_eq!(lines[0].amount_fen, 9900);
        assert_eq!(lines[0].subject, "Python 全栈开发");
        assert_eq!(lines[0].refund_no, None);
        assert_eq!(lines[0].finished_at, parse_beijing("2026-11-29 10:15:20").ok());
        assert_eq!(lines[1].kind, BillKind::Refund);
        assert_eq!(lines[1].amount_fen, 1990);
        assert_eq!(lines[1].refund_no.as_deref(), Some("2026112921001004000123"));
    }

    #[test]
    fn columns_are_found_by_name() {
        // The same file with the first two columns swapped reads the same.
        let text = encoding_rs::GBK.decode(&fixture()).0.into_owned();
        let swapped: String = text
            .lines()
            .map(|l| {
                if l.starts_with('#') {
                    return format!("{l}\r\n");
                }
                let mut f: Vec<&str> = l.split(',').collect();
                f.swap(0, 1);
                format!("{}\r\n", f.join(","))
            })
            .collect();
        let (lines, _) = read(&encoding_rs::GBK.encode(&swapped).0).expect("reads");
        assert_eq!(lines[0].out_trade_no, "CS2026112910150011223344556677AA");
        assert_eq!(lines[0].trade_no, "2026112922001400001234567890");
    }

    #[test]
    fn refuses_what_is_not_the_format() {
        let good = fixture();
        // UTF-8 instead of GBK.
        let text = encoding_rs::GBK.decode(&good).0.into_owned();
        assert!(matches!(read(text.as_bytes()), Err(BillError::Encoding { .. })));
        // Truncated: no end marker.
        let marker = text.find(LIST_END).expect("end marker");
        let cut = &text[..text[..marker].rfind('\n').map_or(0, |i| i + 1)];
        let err = read(&encoding_rs::GBK.encode(cut).0).expect_err("truncated");
        assert!(err.to_string().contains("truncated") || matches!(err, BillError::Malformed { .. }), "{err}");
        // A malformed amount.
        let bad = text.replace(",99.00\t,99.00", ",99.0x\t,99.00");
        let err = read(&encoding_rs::GBK.encode(&bad).0).expect_err("bad amount");
        assert!(err.to_string().contains("line 6"), "{err}");
        // A row with a missing field.
        let bad = text.replace("\t,-0.59\t,0.00\t,\t", "\t,-0.59\t,0.00\t");
        assert!(matches!(read(&encoding_rs::GBK.encode(&bad).0), Err(BillError::Malformed { line: 6, .. })));
        // Totals that do not match the rows (each of the two lines).
        let bad = text.replace("退款合计：1笔", "退款合计：2笔");
        assert!(read(&encoding_rs::GBK.encode(&bad).0).is_err());
        let bad = text.replace("交易合计：1笔", "交易合计：0笔");
        assert!(read(&encoding_rs::GBK.encode(&bad).0).is_err());
        // A refund row whose amount is not negative.
        let bad = text.replace(",-19.90\t,-19.90", ",19.90\t,19.90");
        let err = read(&encoding_rs::GBK.encode(&bad).0).expect_err("positive refund");
        assert!(err.to_string().contains("line 7") && err.to_string().contains("not negative"), "{err}");
        // An unknown business type.
        let bad = text.replace(",交易\t,", ",冻结\t,");
        assert!(read(&encoding_rs::GBK.encode(&bad).0).is_err());
    }

    #[test]
    fn quoted_fields_and_padding() {
        assert_eq!(split_row("a\t, \"b,c\"\t,\"d\"\"e\",").expect("ok"), ["a", "b,c", "d\"e", ""]);
        assert!(split_row("\"open").is_err());
    }

    #[test]
    fn download_url_answer_is_verified() {
        let key = crate::keys::AppPrivateKey::generate().expect("key");
        let public = key.public_key().expect("public");
        let node = r#"{"code":"10000","msg":"Success","bill_download_url":"http://dwbillcenter.alipay.com/downloadBillFile.resource?bizType=trade&fileType=csv.zip&bizDates=20261129"}"#;
        let body = format!(
            "{{\"alipay_data_dataservice_bill_downloadurl_query_response\":{node},\"sign\":\"{}\"}}",
            key.sign(node).expect("sign")
        );
        let url = parse_download_url_response(&body, &public).expect("verified");
        assert!(url.starts_with("http://dwbillcenter.alipay.com/"));
        let tampered = body.replace("20261129", "20261128");
        assert!(matches!(parse_download_url_response(&tampered, &public), Err(GatewayError::BadSignature)));
    }

    #[cfg(feature = "gateway")]
    #[test]
    fn the_gateway_zip_reads_back() {
        let lines = vec![
            BillLine {
                kind: BillKind::Trade,
                trade_no: "T1".into(),
                out_trade_no: "CS1".into(),
                amount_fen: 9900,
                refund_no: None,
                finished_at: parse_beijing("2026-11-29 10:15:20").ok(),
                subject: "数据结构".into(),
            },
            BillLine {
                kind: BillKind::Refund,
                trade_no: "T1".into(),
                out_trade_no: "CS1".into(),
                amount_fen: 100,
                refund_no: Some("R1".into()),
                finished_at: parse_beijing("2026-11-29 11:00:00").ok(),
                subject: "数据结构".into(),
            },
        ];
        let day = NaiveDate::from_ymd_opt(2026, 11, 29).expect("day");
        let zip = trade_bill_zip("2088000000000001", day, &lines, Utc::now()).expect("zip");
        let mut read_back = Vec::new();
        let summary = read_trade_bill_zip(std::io::Cursor::new(&zip), |l| read_back.push(l)).expect("reads");
        assert_eq!(summary, BillSummary { trades: 1, refunds: 1 });
        assert_eq!(read_back, lines);
        // A truncated zip is refused.
        let cut = &zip[..zip.len() / 2];
        assert!(matches!(read_trade_bill_zip(std::io::Cursor::new(cut), |_| {}), Err(BillError::Zip(_))));
    }
}
