//! Bahasa Indonesia and English: the language of a request (a cookie set by the switch link,
//! else the browser's Accept-Language), and every text the pages show in both.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::AppState;

/// A language of the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lang {
    En,
    Id,
}

impl Lang {
    /// The request's language: the `lang` cookie, else Accept-Language (`id…` first is Bahasa
    /// Indonesia), else English.
    pub(crate) fn of(headers: &HeaderMap) -> Self {
        let cookie = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .find_map(|pair| pair.trim().strip_prefix("lang="));
        if let Some(lang) = cookie.and_then(Lang::parse) {
            return lang;
        }
        let accept = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if accept.trim_start().to_ascii_lowercase().starts_with("id") {
            Lang::Id
        } else {
            Lang::En
        }
    }

    fn parse(code: &str) -> Option<Self> {
        match code {
            "en" => Some(Lang::En),
            "id" => Some(Lang::Id),
            _ => None,
        }
    }

    /// The BCP 47 code, for `<html lang>`.
    pub(crate) fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Id => "id",
        }
    }

    /// The other language, which the switch link offers.
    pub(crate) fn other(self) -> Self {
        match self {
            Lang::En => Lang::Id,
            Lang::Id => Lang::En,
        }
    }

    /// Every text in this language.
    pub(crate) fn text(self) -> &'static Text {
        match self {
            Lang::En => &EN,
            Lang::Id => &ID,
        }
    }

    /// `n` with this language's thousands separator.
    pub(crate) fn number(self, n: u64) -> String {
        let english = jembatan_proto::convert::number::thousands(n);
        match self {
            Lang::En => english,
            Lang::Id => english.replace(',', "."),
        }
    }

    /// A duration in whole seconds, in its largest unit: `42 s`, `5 min`, `3 h`, `2 d`.
    pub(crate) fn age(self, seconds: i64) -> String {
        let t = self.text();
        let seconds = seconds.max(0);
        match seconds {
            s if s < 120 => format!("{s} {}", t.unit_seconds),
            s if s < 7_200 => format!("{} {}", s / 60, t.unit_minutes),
            s if s < 172_800 => format!("{} {}", s / 3_600, t.unit_hours),
            s => format!("{} {}", s / 86_400, t.unit_days),
        }
    }
}

/// `GET lang/{en|id}`: remembers the language in a cookie and goes back to the page the link
/// was on (a path of this console, under its base, only).
pub(crate) async fn switch(
    State(state): State<Arc<AppState>>,
    Path(code): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Some(lang) = Lang::parse(&code) else {
        return (StatusCode::NOT_FOUND, "languages: en, id").into_response();
    };
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|referer| referer.split_once("://").map(|(_, rest)| rest))
        .and_then(|rest| rest.find('/').map(|at| &rest[at..]))
        .filter(|path| path.starts_with(state.base.as_str()) && !path.contains('\\'))
        .unwrap_or(&state.base);
    let cookie = format!(
        "lang={}; Path=/; SameSite=Strict; Max-Age=31536000",
        lang.code()
    );
    let mut response = (StatusCode::SEE_OTHER, ()).into_response();
    let headers = response.headers_mut();
    if let (Ok(location), Ok(cookie)) =
        (HeaderValue::from_str(back), HeaderValue::from_str(&cookie))
    {
        headers.insert(header::LOCATION, location);
        headers.insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Every text the pages show. `{…}` marks are replaced where the text is used.
#[derive(Debug)]
pub(crate) struct Text {
    pub(crate) title: &'static str,
    pub(crate) skip: &'static str,
    pub(crate) switch_to: &'static str,
    pub(crate) connected: &'static str,
    pub(crate) nav_overview: &'static str,
    pub(crate) nav_activity: &'static str,
    pub(crate) nav_entries: &'static str,
    pub(crate) nav_history: &'static str,
    pub(crate) exchange_error: &'static str,
    pub(crate) unit_seconds: &'static str,
    pub(crate) unit_minutes: &'static str,
    pub(crate) unit_hours: &'static str,
    pub(crate) unit_days: &'static str,
    // Overview.
    pub(crate) log_size: &'static str,
    pub(crate) checkpoint: &'static str,
    pub(crate) tree_size: &'static str,
    pub(crate) signed_at: &'static str,
    pub(crate) age: &'static str,
    pub(crate) root: &'static str,
    pub(crate) origin: &'static str,
    pub(crate) verification: &'static str,
    pub(crate) verified: &'static str,
    pub(crate) verifying: &'static str,
    pub(crate) failed: &'static str,
    pub(crate) unchecked: &'static str,
    pub(crate) verify_again: &'static str,
    pub(crate) witnesses: &'static str,
    pub(crate) witness: &'static str,
    pub(crate) status: &'static str,
    pub(crate) cosigned: &'static str,
    pub(crate) stale: &'static str,
    pub(crate) not_cosigned: &'static str,
    pub(crate) forked_cosignature: &'static str,
    pub(crate) witness_unknown: &'static str,
    pub(crate) truncated: &'static str,
    pub(crate) reads_left_out: &'static str,
    pub(crate) no_witnesses: &'static str,
    pub(crate) unchecked_cosignature: &'static str,
    pub(crate) no_checkpoint: &'static str,
    // Activity.
    pub(crate) from: &'static str,
    pub(crate) to: &'static str,
    pub(crate) show: &'static str,
    pub(crate) shared_chart: &'static str,
    pub(crate) refusals_chart: &'static str,
    pub(crate) day: &'static str,
    pub(crate) agency: &'static str,
    pub(crate) method: &'static str,
    pub(crate) purpose: &'static str,
    pub(crate) record_type: &'static str,
    pub(crate) count: &'static str,
    pub(crate) reason: &'static str,
    pub(crate) export_csv: &'static str,
    pub(crate) nothing: &'static str,
    pub(crate) counted_at: &'static str,
    pub(crate) bad_date: &'static str,
    // Entries.
    pub(crate) principal: &'static str,
    pub(crate) decision: &'static str,
    pub(crate) any: &'static str,
    pub(crate) allowed: &'static str,
    pub(crate) refused: &'static str,
    pub(crate) filter: &'static str,
    pub(crate) index: &'static str,
    pub(crate) time: &'static str,
    pub(crate) record_key: &'static str,
    pub(crate) next_page: &'static str,
    pub(crate) first_page: &'static str,
    pub(crate) prove: &'static str,
    pub(crate) no_entries: &'static str,
    // One entry.
    pub(crate) entry: &'static str,
    pub(crate) proof_ok: &'static str,
    pub(crate) proof_failed: &'static str,
    pub(crate) leaf_hash: &'static str,
    pub(crate) legal_basis: &'static str,
    pub(crate) case_ref: &'static str,
    pub(crate) operator: &'static str,
    pub(crate) data_classes: &'static str,
    pub(crate) policies: &'static str,
    pub(crate) policy_set: &'static str,
    pub(crate) trace: &'static str,
    pub(crate) refusal_code: &'static str,
    pub(crate) digest: &'static str,
    pub(crate) certificate: &'static str,
    // History.
    pub(crate) history: &'static str,
    pub(crate) history_intro: &'static str,
    pub(crate) nik: &'static str,
    pub(crate) look_up: &'static str,
    pub(crate) as_csv: &'static str,
    pub(crate) bad_nik: &'static str,
    pub(crate) no_accesses: &'static str,
    pub(crate) only_kp2mi: &'static str,
    pub(crate) leaf: &'static str,
}

const EN: Text = Text {
    title: "Jembatan audit console",
    skip: "Skip to content",
    switch_to: "Bahasa Indonesia",
    connected: "Connected to {server} as {identity}",
    nav_overview: "Overview",
    nav_activity: "Activity",
    nav_entries: "Log entries",
    nav_history: "Worker's history",
    exchange_error: "The exchange answered: {error}",
    unit_seconds: "s",
    unit_minutes: "min",
    unit_hours: "h",
    unit_days: "d",
    log_size: "Log size (leaves signed)",
    checkpoint: "Latest checkpoint",
    tree_size: "Tree size",
    signed_at: "Signed at",
    age: "Age",
    root: "Root hash",
    origin: "Origin",
    verification: "Verification",
    verified: "Verified: a full pass {full_ago} ago recomputed the root the log signed for its {leaves} leaves from the entries listed; every later checkpoint, up to {size} leaves, is proved to extend it (last checked {ago} ago).",
    verifying: "Verifying: {done} of {total} leaves fetched and hashed…",
    failed: "FAILED: {reason}",
    unchecked: "Not checked: {reason}",
    verify_again: "Verify the whole log again",
    witnesses: "Cosignatures by the ministries",
    witness: "Witness",
    status: "Status",
    cosigned: "cosigned the checkpoint of {size} leaves {ago} ago (signature checked)",
    stale: "has NOT cosigned for {ago}: the last checkpoint it cosigned holds {size} leaves",
    not_cosigned: "has NOT cosigned any checkpoint in the last 24 hours",
    forked_cosignature: "cosigned a checkpoint of {size} leaves that the latest checkpoint does NOT extend: the log showed this witness another history",
    witness_unknown: "cannot be checked with this identity (it may not list the log)",
    truncated: "Only the first {n} are shown: narrow the filters to see the rest.",
    reads_left_out: "Reads of the log itself and cosignatures are left out here; the CSV export has them.",
    no_witnesses: "No witness keys given: start the console with --witness KEY for each ministry to check their cosignatures.",
    unchecked_cosignature: "Also listed, not checked (no key given): {names}",
    no_checkpoint: "The log has no checkpoint yet.",
    from: "From",
    to: "To",
    show: "Show",
    shared_chart: "Records shared per day, by agency",
    refusals_chart: "Refused calls per day, by reason",
    day: "Day",
    agency: "Agency",
    method: "Method",
    purpose: "Purpose",
    record_type: "Record type",
    count: "Count",
    reason: "Reason",
    export_csv: "Export this view as CSV",
    nothing: "Nothing in this range.",
    counted_at: "Counted by the exchange at log size {size}; this look is itself logged.",
    bad_date: "Dates are YYYY-MM-DD, the first not after the last, at most 366 days apart.",
    principal: "Principal",
    decision: "Decision",
    any: "any",
    allowed: "allowed",
    refused: "refused",
    filter: "Filter",
    index: "Index",
    time: "Time (UTC)",
    record_key: "Record key",
    next_page: "Next page",
    first_page: "First page",
    prove: "Prove",
    no_entries: "No entries match.",
    entry: "Entry {index}",
    proof_ok: "Included in the checkpoint of {size} leaves signed by the log: the entry's bytes hash to its leaf hash and its inclusion proof verifies.",
    proof_failed: "The entry does NOT verify: {reason}",
    leaf_hash: "Leaf hash",
    legal_basis: "Legal basis",
    case_ref: "Case reference",
    operator: "Operator",
    data_classes: "Data classes",
    policies: "Deciding policies",
    policy_set: "Policy set",
    trace: "Trace id",
    refusal_code: "Refusal code",
    digest: "Record digest",
    certificate: "Certificate (SHA-256)",
    history: "A worker's history (UU PDP Article 32)",
    history_intro: "Who received what about one worker, when and for which purpose. The NIK goes to the exchange in the body of the request only: it is never put in an address, and neither this console nor the exchange logs it.",
    nik: "NIK (16 digits)",
    look_up: "Look up",
    as_csv: "Download as CSV",
    bad_nik: "This is not a valid NIK:",
    no_accesses: "No record of this worker is stored (none crossed, or the worker's data was erased).",
    only_kp2mi: "This identity may not look up a worker's history: KP2MI answers these requests. Start the console with KP2MI's identity (with --dev: --as kp2mi).",
    leaf: "Leaf",
};

const ID: Text = Text {
    title: "Konsol audit Jembatan",
    skip: "Langsung ke isi",
    switch_to: "English",
    connected: "Terhubung ke {server} sebagai {identity}",
    nav_overview: "Ikhtisar",
    nav_activity: "Aktivitas",
    nav_entries: "Entri log",
    nav_history: "Riwayat pekerja",
    exchange_error: "Jawaban exchange: {error}",
    unit_seconds: "detik",
    unit_minutes: "menit",
    unit_hours: "jam",
    unit_days: "hari",
    log_size: "Ukuran log (leaf yang ditandatangani)",
    checkpoint: "Checkpoint terakhir",
    tree_size: "Ukuran pohon",
    signed_at: "Ditandatangani pada",
    age: "Umur",
    root: "Hash akar",
    origin: "Asal",
    verification: "Verifikasi",
    verified: "Terverifikasi: pemeriksaan penuh {full_ago} lalu menghitung ulang akar yang ditandatangani log untuk {leaves} leaf dari entri yang didaftar; setiap checkpoint sesudahnya, sampai {size} leaf, terbukti melanjutkannya (terakhir diperiksa {ago} lalu).",
    verifying: "Sedang memverifikasi: {done} dari {total} leaf telah diambil dan di-hash…",
    failed: "GAGAL: {reason}",
    unchecked: "Belum diperiksa: {reason}",
    verify_again: "Verifikasi ulang seluruh log",
    witnesses: "Kosignatur kementerian",
    witness: "Saksi",
    status: "Status",
    cosigned: "menandatangani checkpoint {size} leaf {ago} lalu (tanda tangan diperiksa)",
    stale: "TIDAK menandatangani selama {ago}: checkpoint terakhir yang ditandatanganinya berisi {size} leaf",
    not_cosigned: "TIDAK menandatangani checkpoint apa pun dalam 24 jam terakhir",
    forked_cosignature: "menandatangani checkpoint {size} leaf yang TIDAK dilanjutkan oleh checkpoint terakhir: log menunjukkan riwayat lain kepada saksi ini",
    witness_unknown: "tidak dapat diperiksa dengan identitas ini (tidak boleh mendaftar log)",
    truncated: "Hanya {n} yang pertama ditampilkan: persempit saringan untuk melihat sisanya.",
    reads_left_out: "Pembacaan log itu sendiri dan kosignatur tidak dihitung di sini; ekspor CSV memuatnya.",
    no_witnesses: "Tidak ada kunci saksi: jalankan konsol dengan --witness KEY untuk setiap kementerian agar kosignaturnya diperiksa.",
    unchecked_cosignature: "Juga terdaftar, tidak diperiksa (tanpa kunci): {names}",
    no_checkpoint: "Log belum memiliki checkpoint.",
    from: "Dari",
    to: "Sampai",
    show: "Tampilkan",
    shared_chart: "Rekaman yang dibagikan per hari, menurut instansi",
    refusals_chart: "Panggilan yang ditolak per hari, menurut alasan",
    day: "Hari",
    agency: "Instansi",
    method: "Metode",
    purpose: "Tujuan",
    record_type: "Jenis rekaman",
    count: "Jumlah",
    reason: "Alasan",
    export_csv: "Ekspor tampilan ini sebagai CSV",
    nothing: "Tidak ada data pada rentang ini.",
    counted_at: "Dihitung oleh exchange pada ukuran log {size}; tampilan ini juga dicatat.",
    bad_date: "Tanggal berformat YYYY-MM-DD, yang pertama tidak sesudah yang terakhir, paling jauh 366 hari.",
    principal: "Prinsipal",
    decision: "Keputusan",
    any: "semua",
    allowed: "diizinkan",
    refused: "ditolak",
    filter: "Saring",
    index: "Indeks",
    time: "Waktu (UTC)",
    record_key: "Kunci rekaman",
    next_page: "Halaman berikutnya",
    first_page: "Halaman pertama",
    prove: "Buktikan",
    no_entries: "Tidak ada entri yang cocok.",
    entry: "Entri {index}",
    proof_ok: "Termasuk dalam checkpoint {size} leaf yang ditandatangani log: byte entri sesuai dengan hash leaf-nya dan bukti inklusinya terverifikasi.",
    proof_failed: "Entri TIDAK terverifikasi: {reason}",
    leaf_hash: "Hash leaf",
    legal_basis: "Dasar hukum",
    case_ref: "Nomor perkara",
    operator: "Operator",
    data_classes: "Kelas data",
    policies: "Kebijakan yang memutuskan",
    policy_set: "Set kebijakan",
    trace: "Trace id",
    refusal_code: "Kode penolakan",
    digest: "Digest rekaman",
    certificate: "Sertifikat (SHA-256)",
    history: "Riwayat seorang pekerja (UU PDP Pasal 32)",
    history_intro: "Siapa menerima apa tentang seorang pekerja, kapan dan untuk tujuan apa. NIK dikirim ke exchange hanya di badan permintaan: tidak pernah dimasukkan ke alamat, dan baik konsol ini maupun exchange tidak mencatatnya.",
    nik: "NIK (16 digit)",
    look_up: "Cari",
    as_csv: "Unduh sebagai CSV",
    bad_nik: "NIK tidak sah:",
    no_accesses: "Tidak ada rekaman pekerja ini yang tersimpan (tidak ada yang dibagikan, atau datanya telah dihapus).",
    only_kp2mi: "Identitas ini tidak boleh melihat riwayat pekerja: KP2MI yang menjawab permintaan ini. Jalankan konsol dengan identitas KP2MI (dengan --dev: --as kp2mi).",
    leaf: "Leaf",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_languages() {
        assert_eq!(Lang::En.number(1_234_567), "1,234,567");
        assert_eq!(Lang::Id.number(1_234_567), "1.234.567");
        assert_eq!(Lang::En.number(999), "999");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::ACCEPT_LANGUAGE,
            HeaderValue::from_static("id-ID,id;q=0.9"),
        );
        assert_eq!(Lang::of(&headers), Lang::Id);
        headers.insert(header::COOKIE, HeaderValue::from_static("x=1; lang=en"));
        assert_eq!(Lang::of(&headers), Lang::En);
        assert_eq!(Lang::of(&HeaderMap::new()), Lang::En);
        assert_eq!(Lang::Id.age(7_300), "2 jam");
    }
}
