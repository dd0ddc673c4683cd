//! Synthetic placement records that look like KP2MI's: destinations weighted by the 2024
//! placements, with a long tail of countries; provinces of origin likewise, all 38, each
//! spread over its regencies and cities of the Kemendagri list so that a few lead (Zipf-like);
//! about 63% women; the five big occupations (house maids, caregivers, general workers,
//! plantation and construction workers) and fishing crews, then a tail of nearly fifty more
//! ISCO-08 unit groups (cooks, waiters, drivers, welders, fishery workers, nursing aides,
//! factory operators, cleaners and more) by destination and sex; languages that fit the
//! destination, NIKs that agree with sex and birth date, two-year contracts ending over the
//! past and the next twelve months, and consent for a share of the workers. Figures: the 2024
//! placement figures of the project's domain notes ("Realistic figures"); the tails (the
//! countries after the twenty named, the provinces after the ten named, the occupations after
//! the five) are estimates that fill the rest of the 297,434 placements.
//!
//! Pure and deterministic: the same seed and the same `today` give the same records. Region,
//! occupation and country codes are real (Kemendagri, KBJI 2014 / ISCO-08, ISO 3166-1); the
//! kecamatan counts of the regencies outside the leading few, certificate scheme codes, P3MI
//! and LSP numbers, names and contact details are made up.
//!
//! Beside the placements: market reports of workers abroad ([`Reports`]), Kemendag's export
//! programs ([`programs`]) and the enrolments of consenting workers in them ([`Enrollments`]).

#![forbid(unsafe_code)]

mod market;
mod places;
mod products;
mod programs;

pub use market::Reports;
pub use programs::{Enrollments, programs};

use std::collections::HashMap;
use std::sync::LazyLock;

use jembatan_domain::Regency;
use jembatan_proto::convert::date::to_proto as proto_date;
use jembatan_proto::convert::timestamp::to_proto as proto_time;
use jembatan_proto::v1;
use time::{Date, Duration, Month, OffsetDateTime, Time};

/// SplitMix64 (Steele, Lea and Flood 2014): small, fast and good enough for synthetic data.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    /// A generator started from `seed`.
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0), by multiply-and-shift; its bias is negligible here.
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        // 53 random bits as a fraction in [0, 1).
        #[allow(clippy::cast_precision_loss)]
        let fraction = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        fraction < p
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: i64, high: i64) -> i64 {
        let span = u64::try_from(high - low).unwrap_or(0) + 1;
        low + i64::try_from(self.below(span)).unwrap_or(0)
    }

    /// One of `items` (not empty), uniformly.
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        &items[i]
    }

    /// One of `items` (not empty), by weight.
    fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u64 = items.iter().map(|(_, w)| u64::from(*w)).sum();
        let mut point = self.below(total.max(1));
        for (item, weight) in items {
            if point < u64::from(*weight) {
                return item;
            }
            point -= u64::from(*weight);
        }
        &items[items.len() - 1].0
    }
}

/// A destination: ISO code, placements in 2024, and the share of women in permille.
struct Destination {
    code: &'static str,
    placements: u32,
    women_permille: u64,
}

/// Destinations 2024 (DOMAIN.md); the share of women is an estimate per country that gives
/// about 63% overall: domestic work in Hong Kong, Singapore and the Gulf, factories and
/// fishing boats in Taiwan, Korea and Japan, plantations in Malaysia. After the twenty named
/// countries comes a long tail, an estimate that shares the other 2,862 of the 297,434
/// placements among 36 countries.
const DESTINATIONS: &[Destination] = &[
    dest("HK", 99_773, 970),
    dest("TW", 84_581, 550),
    dest("MY", 51_723, 350),
    dest("JP", 12_720, 300),
    dest("SG", 10_819, 900),
    dest("KR", 10_750, 50),
    dest("SA", 7_759, 700),
    dest("IT", 3_535, 200),
    dest("BN", 3_183, 600),
    dest("TR", 2_630, 600),
    dest("PL", 1_320, 100),
    dest("AE", 1_244, 600),
    dest("ZM", 857, 100),
    dest("QA", 783, 500),
    dest("KW", 640, 800),
    dest("MV", 591, 200),
    dest("PG", 456, 100),
    dest("HU", 427, 200),
    dest("SK", 404, 200),
    dest("RO", 377, 200),
    // The long tail.
    dest("OM", 370, 850),
    dest("US", 330, 300),
    dest("AU", 280, 350),
    dest("MO", 234, 900),
    dest("BH", 190, 850),
    dest("DE", 170, 550),
    dest("NZ", 150, 300),
    dest("FJ", 130, 50),
    dest("NL", 110, 300),
    dest("CN", 95, 200),
    dest("GB", 85, 300),
    dest("TH", 75, 300),
    dest("MU", 65, 100),
    dest("CY", 60, 700),
    dest("ES", 55, 150),
    dest("NC", 50, 300),
    dest("FR", 45, 300),
    dest("CA", 40, 300),
    dest("TL", 36, 300),
    dest("PH", 32, 200),
    dest("VN", 30, 200),
    dest("ZA", 28, 200),
    dest("SC", 26, 200),
    dest("JO", 24, 700),
    dest("GR", 22, 300),
    dest("MT", 20, 500),
    dest("CZ", 18, 200),
    dest("LT", 16, 100),
    dest("PW", 14, 100),
    dest("MH", 12, 50),
    dest("BE", 10, 300),
    dest("CH", 10, 400),
    dest("PT", 9, 100),
    dest("SE", 8, 300),
    dest("IE", 7, 200),
    dest("AO", 6, 50),
];

const fn dest(code: &'static str, placements: u32, women_permille: u64) -> Destination {
    Destination {
        code,
        placements,
        women_permille,
    }
}

/// The placements of all destinations.
const DESTINATION_TOTAL: u64 = {
    let mut total = 0;
    let mut i = 0;
    while i < DESTINATIONS.len() {
        total += DESTINATIONS[i].placements as u64;
        i += 1;
    }
    total
};

/// Provinces of origin 2024, all 38 (DOMAIN.md): the five large ones as given, the next five
/// with a few thousand each, the eastern provinces with tens; the others share the rest of the
/// 297,434 placements by estimate, Kalimantan Barat, Yogyakarta, Sumatera Selatan and Sulawesi
/// Barat the most.
const PROVINCES: &[(&str, u32)] = &[
    ("35", 79_339),
    ("33", 66_611),
    ("32", 61_556),
    ("52", 31_031),
    ("18", 25_162),
    ("51", 3_000),
    ("12", 4_500),
    ("73", 2_500),
    ("53", 3_500),
    ("36", 4_000),
    ("61", 2_100),
    ("34", 2_000),
    ("16", 2_000),
    ("76", 1_900),
    ("31", 1_600),
    ("74", 1_100),
    ("21", 800),
    ("14", 700),
    ("72", 500),
    ("65", 450),
    ("15", 400),
    ("11", 350),
    ("17", 350),
    ("64", 350),
    ("71", 300),
    ("13", 300),
    ("63", 300),
    ("19", 185),
    ("62", 175),
    ("75", 175),
    ("81", 60),
    ("82", 40),
    ("91", 30),
    ("92", 20),
    ("96", 20),
    ("93", 10),
    ("94", 10),
    ("95", 10),
];

/// The regencies and cities that lead their province's placements, in rough order of
/// placements: Kemendagri code, name, and the number of its kecamatan used in NIKs (at most
/// 30). Checked against the Kemendagri code list.
const LEADING_REGENCIES: &[(&str, &str, u8)] = &[
    ("35.07", "Kabupaten Malang", 30),
    ("35.02", "Kabupaten Ponorogo", 21),
    ("35.05", "Kabupaten Blitar", 22),
    ("35.04", "Kabupaten Tulungagung", 19),
    ("35.10", "Kabupaten Banyuwangi", 25),
    ("35.06", "Kabupaten Kediri", 26),
    ("35.09", "Kabupaten Jember", 30),
    ("35.19", "Kabupaten Madiun", 15),
    ("35.03", "Kabupaten Trenggalek", 14),
    ("35.17", "Kabupaten Jombang", 21),
    ("33.01", "Kabupaten Cilacap", 24),
    ("33.24", "Kabupaten Kendal", 20),
    ("33.29", "Kabupaten Brebes", 17),
    ("33.02", "Kabupaten Banyumas", 27),
    ("33.05", "Kabupaten Kebumen", 26),
    ("33.15", "Kabupaten Grobogan", 19),
    ("33.18", "Kabupaten Pati", 21),
    ("32.12", "Kabupaten Indramayu", 30),
    ("32.09", "Kabupaten Cirebon", 30),
    ("32.13", "Kabupaten Subang", 30),
    ("32.03", "Kabupaten Cianjur", 30),
    ("32.10", "Kabupaten Majalengka", 26),
    ("32.15", "Kabupaten Karawang", 30),
    ("32.02", "Kabupaten Sukabumi", 30),
    ("52.03", "Kabupaten Lombok Timur", 21),
    ("52.02", "Kabupaten Lombok Tengah", 12),
    ("52.01", "Kabupaten Lombok Barat", 10),
    ("52.04", "Kabupaten Sumbawa", 24),
    ("18.07", "Kabupaten Lampung Timur", 24),
    ("18.02", "Kabupaten Lampung Tengah", 28),
    ("18.01", "Kabupaten Lampung Selatan", 17),
    ("51.08", "Kabupaten Buleleng", 9),
    ("51.71", "Kota Denpasar", 4),
    ("12.07", "Kabupaten Deli Serdang", 22),
    ("12.71", "Kota Medan", 21),
    ("73.08", "Kabupaten Bone", 27),
    ("73.71", "Kota Makassar", 15),
    ("53.01", "Kabupaten Kupang", 24),
    ("53.71", "Kota Kupang", 6),
    ("36.04", "Kabupaten Serang", 29),
    ("36.03", "Kabupaten Tangerang", 29),
];

/// A regency or city of origin: its code, its province, its number of kecamatan, and the
/// running total of the weights of the table up to and including it.
struct Origin {
    code: &'static str,
    province: &'static str,
    kecamatan_count: u8,
    upto: u64,
}

/// Every regency and city of the Kemendagri list, weighted: each province gets its share of
/// [`PROVINCES`], and within a province the rank `r` regency gets a share proportional to
/// `1 / (r + 1)` (Zipf-like), the leading regencies first, then the other regencies in code
/// order, then the cities. Built once; a draw is a binary search.
static ORIGINS: LazyLock<Vec<Origin>> = LazyLock::new(origins);

fn origins() -> Vec<Origin> {
    let leading = |code: &str| LEADING_REGENCIES.iter().position(|(c, _, _)| *c == code);
    let mut regencies: Vec<Regency> = Regency::all().collect();
    regencies.sort_by_key(|r| {
        (
            r.province(),
            leading(r.code()).unwrap_or(usize::MAX),
            r.is_city(),
            r.code(),
        )
    });
    let mut table = Vec::with_capacity(regencies.len());
    let mut upto = 0u64;
    for province in regencies.chunk_by(|a, b| a.province() == b.province()) {
        let placements = PROVINCES
            .iter()
            .find(|(code, _)| *code == province[0].province())
            .map_or(0, |(_, placements)| u128::from(*placements));
        // 1 / (r + 1) in billionths, and their sum, so that the province's weights add up to
        // its placements in millionths.
        let shares: Vec<u128> = (1..=province.len() as u128)
            .map(|rank| 1_000_000_000 / (rank + 1))
            .collect();
        let sum: u128 = shares.iter().sum();
        for (regency, share) in province.iter().zip(shares) {
            let weight = placements * 1_000_000 * share / sum.max(1);
            upto = upto.saturating_add(u64::try_from(weight).unwrap_or(u64::MAX));
            table.push(Origin {
                code: regency.code(),
                province: regency.province(),
                kecamatan_count: leading(regency.code())
                    .map_or_else(|| kecamatan_count(regency), |i| LEADING_REGENCIES[i].2),
                upto,
            });
        }
    }
    table
}

/// A made-up number of kecamatan for a regency outside [`LEADING_REGENCIES`]: 10 to 24 for a
/// regency, 4 to 11 for a city, fixed by its code.
fn kecamatan_count(regency: &Regency) -> u8 {
    let n: u32 = regency
        .code()
        .bytes()
        .filter(u8::is_ascii_digit)
        .fold(0, |n, digit| n * 10 + u32::from(digit - b'0'));
    let (low, span) = if regency.is_city() { (4, 8) } else { (10, 15) };
    low + u8::try_from(n % span).unwrap_or(0)
}

/// A regency or city of origin, by weight.
fn pick_origin(rng: &mut SplitMix64) -> &'static Origin {
    let origins = &*ORIGINS;
    let total = origins.last().map_or(0, |o| o.upto);
    let point = rng.below(total.max(1));
    let i = origins.partition_point(|o| o.upto <= point);
    &origins[i.min(origins.len().saturating_sub(1))]
}

/// An occupation as placed: KBJI/ISCO code, job titles as placement files write them, the
/// usual employer, a KBLI 2020 business line, and a (made-up) competency scheme.
struct Occupation {
    code: &'static str,
    titles: &'static [&'static str],
    employer: v1::EmployerType,
    kbli: Option<&'static str>,
    scheme: (&'static str, &'static str, u32),
}

/// An [`Occupation`], in short.
const fn job(
    code: &'static str,
    titles: &'static [&'static str],
    employer: v1::EmployerType,
    kbli: Option<&'static str>,
    scheme: (&'static str, &'static str, u32),
) -> Occupation {
    Occupation {
        code,
        titles,
        employer,
        kbli,
        scheme,
    }
}

/// The usual employers, in short.
const INDIVIDUAL: v1::EmployerType = v1::EmployerType::Individual;
const COMPANY: v1::EmployerType = v1::EmployerType::LegalEntity;
const SHIP: v1::EmployerType = v1::EmployerType::Seafarer;

const HOUSE_MAID: Occupation = job(
    "9111",
    &[
        "Penata Laksana Rumah Tangga",
        "Domestic Helper",
        "Housemaid",
    ],
    INDIVIDUAL,
    Some("97000"),
    ("SKM-PLRT-II", "Penata Laksana Rumah Tangga", 2),
);
const CAREGIVER: Occupation = job(
    "5322",
    &["Caregiver", "Perawat Lansia", "Pengasuh Lansia"],
    INDIVIDUAL,
    Some("97000"),
    ("SKM-CG-III", "Perawat Lansia (Caregiver)", 3),
);
const GENERAL_WORKER: Occupation = job(
    "9329",
    &["General Worker", "Operator Produksi", "Factory Worker"],
    COMPANY,
    None,
    ("SKM-OPR-II", "Operator Produksi", 2),
);
const PLANTATION: Occupation = job(
    "9211",
    &[
        "Plantation Worker",
        "Pekerja Perkebunan Sawit",
        "Pekerja Ladang",
    ],
    COMPANY,
    Some("01262"),
    ("SKM-PKB-II", "Pekerja Perkebunan", 2),
);
const CONSTRUCTION: Occupation = job(
    "9313",
    &[
        "Construction Worker",
        "Pekerja Konstruksi",
        "Tukang Bangunan",
    ],
    COMPANY,
    Some("41011"),
    ("SKM-TKB-II", "Tukang Bangunan Gedung", 2),
);
const FISHING_CREW: Occupation = job(
    "9216",
    &[
        "Fishing Crew",
        "Anak Buah Kapal Perikanan",
        "Awak Kapal Ikan",
    ],
    SHIP,
    Some("03111"),
    ("SKM-ABK-II", "Awak Kapal Perikanan", 2),
);

/// The tail: households.
const HOUSEHOLD_WOMEN: &[(&Occupation, u32)] = &[
    (
        &job(
            "5311",
            &["Baby Sitter", "Pengasuh Anak", "Nanny"],
            INDIVIDUAL,
            Some("97000"),
            ("SKM-BBS-II", "Pengasuh Bayi dan Anak", 2),
        ),
        55,
    ),
    (&HOUSEKEEPER, 45),
];
const HOUSEHOLD_MEN: &[(&Occupation, u32)] = &[
    (
        &job(
            "8322",
            &["Family Driver", "Sopir Pribadi", "Driver"],
            INDIVIDUAL,
            Some("97000"),
            ("SKM-PGM-II", "Pengemudi Kendaraan Pribadi", 2),
        ),
        50,
    ),
    (
        &job(
            "9214",
            &["Gardener", "Tukang Kebun"],
            INDIVIDUAL,
            Some("97000"),
            ("SKM-TKN-II", "Tukang Kebun", 2),
        ),
        30,
    ),
    (&HOUSEKEEPER, 20),
];
const HOUSEKEEPER: Occupation = job(
    "5152",
    &["Housekeeper", "Pengurus Rumah Tangga"],
    INDIVIDUAL,
    Some("97000"),
    ("SKM-HK-III", "Pengurus Rumah Tangga", 3),
);

/// The tail: nursing homes and hospitals.
const CARE: &[(&Occupation, u32)] = &[
    (
        &job(
            "5321",
            &["Nursing Aide", "Care Worker (Kaigo)", "Asisten Perawat"],
            COMPANY,
            Some("87301"),
            ("SKM-ASP-III", "Asisten Perawat", 3),
        ),
        85,
    ),
    (
        &job(
            "2221",
            &["Nurse", "Perawat", "Kangoshi"],
            COMPANY,
            Some("86103"),
            ("SKM-NRS-V", "Perawat", 5),
        ),
        15,
    ),
];

/// The tail: factory work women are often placed in.
const FACTORY_WOMEN: &[(&Occupation, u32)] = &[
    (
        &job(
            "8212",
            &[
                "Operator Elektronik",
                "Electronics Assembler",
                "Production Operator",
            ],
            COMPANY,
            None,
            ("SKM-OPE-II", "Operator Perakitan Elektronik", 2),
        ),
        30,
    ),
    (
        &job(
            "8153",
            &["Sewing Operator", "Operator Jahit", "Penjahit"],
            COMPANY,
            Some("14111"),
            ("SKM-JHT-II", "Operator Mesin Jahit", 2),
        ),
        20,
    ),
    (&FOOD_OPERATOR, 20),
    (
        &job(
            "9321",
            &["Packer", "Pekerja Pengepakan", "Packing Worker"],
            COMPANY,
            None,
            ("SKM-PKM-I", "Pengemasan", 1),
        ),
        15,
    ),
    (&PLASTIC_OPERATOR, 10),
    (
        &job(
            "7512",
            &["Baker", "Tukang Roti", "Pastry Cook"],
            COMPANY,
            Some("10710"),
            ("SKM-RTI-II", "Pembuat Roti dan Kue", 2),
        ),
        5,
    ),
];
const FOOD_OPERATOR: Occupation = job(
    "8160",
    &["Food Processing Operator", "Operator Pengolahan Makanan"],
    COMPANY,
    None,
    ("SKM-OPM-II", "Operator Pengolahan Pangan", 2),
);
const PLASTIC_OPERATOR: Occupation = job(
    "8142",
    &["Plastic Injection Operator", "Operator Mesin Plastik"],
    COMPANY,
    None,
    ("SKM-OMP-II", "Operator Mesin Injeksi Plastik", 2),
);

/// The tail: factory work men are often placed in.
const FACTORY_MEN: &[(&Occupation, u32)] = &[
    (
        &job(
            "7223",
            &["CNC Operator", "Machinist", "Operator Mesin Bubut"],
            COMPANY,
            None,
            ("SKM-CNC-III", "Operator Mesin CNC", 3),
        ),
        15,
    ),
    (
        &job(
            "8211",
            &["Assembly Operator", "Operator Perakitan"],
            COMPANY,
            None,
            ("SKM-OPK-II", "Operator Perakitan Mesin", 2),
        ),
        15,
    ),
    (&WELDER, 15),
    (
        &job(
            "8121",
            &["Casting Operator", "Operator Pengecoran Logam"],
            COMPANY,
            Some("24101"),
            ("SKM-PCL-II", "Operator Pengecoran Logam", 2),
        ),
        10,
    ),
    (&PLASTIC_OPERATOR, 8),
    (&FOOD_OPERATOR, 8),
    (
        &job(
            "8172",
            &["Sawmill Operator", "Operator Penggergajian Kayu"],
            COMPANY,
            Some("16101"),
            ("SKM-OPG-II", "Operator Penggergajian Kayu", 2),
        ),
        6,
    ),
    (
        &job(
            "7522",
            &["Furniture Maker", "Tukang Mebel"],
            COMPANY,
            Some("31001"),
            ("SKM-MBL-II", "Pembuat Mebel Kayu", 2),
        ),
        5,
    ),
    (
        &job(
            "8344",
            &["Forklift Operator", "Operator Forklift"],
            COMPANY,
            Some("52101"),
            ("SKM-FRK-II", "Operator Forklift", 2),
        ),
        8,
    ),
    (
        &job(
            "9333",
            &["Warehouse Worker", "Pekerja Gudang", "Loader"],
            COMPANY,
            Some("52101"),
            ("SKM-GDG-I", "Pekerja Gudang", 1),
        ),
        10,
    ),
];
const WELDER: Occupation = job(
    "7212",
    &["Welder", "Tukang Las", "Welding Operator"],
    COMPANY,
    Some("25111"),
    ("SKM-LAS-III", "Juru Las", 3),
);

/// The tail: building sites, shipyards and mines.
const TRADES: &[(&Occupation, u32)] = &[
    (
        &job(
            "7115",
            &["Carpenter", "Tukang Kayu"],
            COMPANY,
            Some("41011"),
            ("SKM-TKY-II", "Tukang Kayu Konstruksi", 2),
        ),
        15,
    ),
    (
        &job(
            "7112",
            &["Mason", "Tukang Batu"],
            COMPANY,
            Some("41011"),
            ("SKM-TBT-II", "Tukang Pasang Batu", 2),
        ),
        15,
    ),
    (
        &job(
            "7214",
            &["Steel Fixer", "Tukang Besi Beton"],
            COMPANY,
            Some("41011"),
            ("SKM-TBB-II", "Tukang Besi Beton", 2),
        ),
        12,
    ),
    (&WELDER, 15),
    (
        &job(
            "7126",
            &["Pipe Fitter", "Plumber", "Tukang Pipa"],
            COMPANY,
            Some("43221"),
            ("SKM-PIP-II", "Tukang Pipa", 2),
        ),
        10,
    ),
    (
        &job(
            "7411",
            &["Electrician", "Teknisi Listrik"],
            COMPANY,
            Some("43211"),
            ("SKM-LIS-III", "Instalatir Listrik", 3),
        ),
        10,
    ),
    (
        &job(
            "7231",
            &["Mechanic", "Mekanik Otomotif"],
            COMPANY,
            Some("45201"),
            ("SKM-MKO-III", "Mekanik Otomotif", 3),
        ),
        5,
    ),
    (
        &job(
            "9312",
            &["Civil Works Labourer", "Pekerja Jalan"],
            COMPANY,
            None,
            ("SKM-PKS-I", "Pekerja Konstruksi Sipil", 1),
        ),
        8,
    ),
    (
        &job(
            "8342",
            &["Excavator Operator", "Operator Alat Berat"],
            COMPANY,
            None,
            ("SKM-OAB-III", "Operator Alat Berat", 3),
        ),
        5,
    ),
    (&TRUCK_DRIVER, 3),
    (
        &job(
            "8111",
            &["Mine Worker", "Penambang"],
            COMPANY,
            None,
            ("SKM-TBG-II", "Juru Tambang", 2),
        ),
        2,
    ),
];
const TRUCK_DRIVER: Occupation = job(
    "8332",
    &["Truck Driver", "Sopir Truk"],
    COMPANY,
    Some("49431"),
    ("SKM-PAB-II", "Pengemudi Angkutan Barang", 2),
);

/// The tail: hotels, resorts, restaurants and shops.
const HOSPITALITY: &[(&Occupation, u32)] = &[
    (
        &job(
            "5120",
            &["Cook", "Juru Masak", "Kitchen Crew"],
            COMPANY,
            Some("56101"),
            ("SKM-JMS-II", "Juru Masak", 2),
        ),
        22,
    ),
    (
        &job(
            "5131",
            &["Waiter", "Waitress", "Pramusaji"],
            COMPANY,
            Some("56101"),
            ("SKM-PRS-II", "Pramusaji", 2),
        ),
        22,
    ),
    (
        &job(
            "9112",
            &[
                "Room Attendant",
                "Cleaning Service",
                "Housekeeping Attendant",
            ],
            COMPANY,
            Some("55110"),
            ("SKM-RA-II", "Room Attendant", 2),
        ),
        18,
    ),
    (
        &job(
            "9412",
            &["Kitchen Helper", "Pembantu Juru Masak"],
            COMPANY,
            Some("56101"),
            ("SKM-PJM-I", "Pembantu Juru Masak", 1),
        ),
        10,
    ),
    (
        &job(
            "3434",
            &["Chef", "Sous Chef", "Commis Chef"],
            COMPANY,
            Some("55110"),
            ("SKM-CHF-IV", "Chef", 4),
        ),
        5,
    ),
    (
        &job(
            "4224",
            &["Front Office Agent", "Resepsionis Hotel"],
            COMPANY,
            Some("55110"),
            ("SKM-FO-III", "Front Office", 3),
        ),
        4,
    ),
    (
        &job(
            "5132",
            &["Bartender", "Barista"],
            COMPANY,
            Some("56301"),
            ("SKM-BAR-II", "Bartender", 2),
        ),
        4,
    ),
    (&SPA_THERAPIST, 6),
    (
        &job(
            "5223",
            &["Shop Assistant", "Pramuniaga"],
            COMPANY,
            Some("47111"),
            ("SKM-PRN-II", "Pramuniaga", 2),
        ),
        5,
    ),
    (
        &job(
            "5414",
            &["Security Guard", "Satpam"],
            COMPANY,
            Some("80100"),
            ("SKM-SAT-II", "Satuan Pengamanan", 2),
        ),
        4,
    ),
];
const SPA_THERAPIST: Occupation = job(
    "5142",
    &["Spa Therapist", "Terapis Spa"],
    COMPANY,
    Some("96122"),
    ("SKM-SPA-III", "Terapis Spa", 3),
);

/// The tail: fishing, fish farming and merchant and cruise ships.
const SEA: &[(&Occupation, u32)] = &[
    (
        &job(
            "6223",
            &["Deep Sea Fisherman", "ABK Kapal Penangkap Ikan"],
            SHIP,
            Some("03111"),
            ("SKM-NLY-II", "Nelayan Laut Dalam", 2),
        ),
        35,
    ),
    (
        &job(
            "6222",
            &["Fisherman", "Nelayan"],
            SHIP,
            Some("03111"),
            ("SKM-NLP-II", "Nelayan Pantai", 2),
        ),
        20,
    ),
    (&DECK_CREW, 25),
    (
        &job(
            "6221",
            &["Aquaculture Worker", "Pekerja Budidaya Ikan"],
            COMPANY,
            None,
            ("SKM-BDI-II", "Pembudidaya Ikan", 2),
        ),
        20,
    ),
];
const DECK_CREW: Occupation = job(
    "8350",
    &["Able Seaman", "Ordinary Seaman", "Deck Rating"],
    SHIP,
    None,
    ("SKM-AKN-II", "Awak Kapal Niaga", 2),
);

/// The tail: cruise ships.
const CRUISE: &[(&Occupation, u32)] = &[
    (
        &job(
            "5111",
            &[
                "Cabin Steward",
                "Cruise Ship Steward",
                "Pramugara Kapal Pesiar",
            ],
            SHIP,
            None,
            ("SKM-KPS-II", "Awak Kapal Pesiar", 2),
        ),
        70,
    ),
    (&DECK_CREW, 30),
];

/// The tail: farms and forests.
const FARM: &[(&Occupation, u32)] = &[
    (
        &job(
            "9213",
            &["Farm Worker", "Pekerja Pertanian", "Greenhouse Worker"],
            COMPANY,
            None,
            ("SKM-PTN-II", "Pekerja Pertanian", 2),
        ),
        60,
    ),
    (
        &job(
            "9212",
            &["Dairy Farm Worker", "Pekerja Peternakan"],
            COMPANY,
            Some("01412"),
            ("SKM-PTR-II", "Pekerja Peternakan", 2),
        ),
        30,
    ),
    (
        &job(
            "9215",
            &["Logging Worker", "Pekerja Kehutanan"],
            COMPANY,
            None,
            ("SKM-HUT-II", "Pekerja Kehutanan", 2),
        ),
        10,
    ),
];

/// What an occupation table draws: one occupation, or one of a group by weight.
enum Work {
    One(&'static Occupation),
    AnyOf(&'static [(&'static Occupation, u32)]),
}

/// Occupations of women and of men by destination, weighted: the five big ones and fishing
/// crews, and groups of the tail.
fn occupations(country: &str, woman: bool) -> &'static [(Work, u32)] {
    use Work::{AnyOf, One};
    let gulf = matches!(country, "SA" | "AE" | "QA" | "KW" | "OM" | "BH");
    let europe = matches!(
        country,
        "PL" | "HU" | "SK" | "RO" | "CZ" | "LT" | "DE" | "NL"
    );
    let islands = matches!(country, "PG" | "FJ" | "MU" | "PW" | "MH" | "SC");
    let resorts = matches!(country, "MV" | "TR");
    match (country, woman) {
        ("HK", true) => &[
            (One(&HOUSE_MAID), 73),
            (One(&CAREGIVER), 21),
            (AnyOf(HOUSEHOLD_WOMEN), 5),
            (AnyOf(HOSPITALITY), 1),
        ],
        ("TW", true) => &[
            (One(&CAREGIVER), 55),
            (One(&HOUSE_MAID), 8),
            (One(&GENERAL_WORKER), 10),
            (AnyOf(CARE), 7),
            (AnyOf(FACTORY_WOMEN), 20),
        ],
        ("MY", true) => &[
            (One(&HOUSE_MAID), 35),
            (One(&GENERAL_WORKER), 15),
            (One(&PLANTATION), 15),
            (AnyOf(FACTORY_WOMEN), 20),
            (AnyOf(HOSPITALITY), 15),
        ],
        ("SG", true) => &[
            (One(&HOUSE_MAID), 80),
            (One(&CAREGIVER), 10),
            (AnyOf(HOUSEHOLD_WOMEN), 6),
            (AnyOf(HOSPITALITY), 4),
        ],
        ("JP", true) => &[
            (One(&CAREGIVER), 25),
            (One(&GENERAL_WORKER), 15),
            (One(&PLANTATION), 5),
            (AnyOf(CARE), 25),
            (AnyOf(FACTORY_WOMEN), 20),
            (AnyOf(FARM), 10),
        ],
        ("KR", true) => &[
            (One(&GENERAL_WORKER), 40),
            (AnyOf(FACTORY_WOMEN), 50),
            (AnyOf(FARM), 10),
        ],
        ("BN", true) => &[
            (One(&HOUSE_MAID), 70),
            (One(&GENERAL_WORKER), 10),
            (AnyOf(HOSPITALITY), 20),
        ],
        ("IT", true) => &[(AnyOf(CRUISE), 70), (One(&CAREGIVER), 30)],
        ("TR", true) => &[
            (One(&SPA_THERAPIST), 50),
            (One(&HOUSE_MAID), 20),
            (AnyOf(HOSPITALITY), 30),
        ],
        (_, true) if gulf => &[
            (One(&HOUSE_MAID), 80),
            (One(&CAREGIVER), 5),
            (AnyOf(HOUSEHOLD_WOMEN), 8),
            (AnyOf(HOSPITALITY), 7),
        ],
        (_, true) if europe => &[
            (AnyOf(FACTORY_WOMEN), 40),
            (AnyOf(HOSPITALITY), 25),
            (AnyOf(CARE), 20),
            (One(&CAREGIVER), 15),
        ],
        (_, true) if resorts || islands => &[
            (AnyOf(HOSPITALITY), 80),
            (One(&HOUSE_MAID), 10),
            (One(&GENERAL_WORKER), 10),
        ],
        (_, true) => &[
            (One(&HOUSE_MAID), 30),
            (One(&GENERAL_WORKER), 20),
            (One(&CAREGIVER), 15),
            (AnyOf(FACTORY_WOMEN), 15),
            (AnyOf(HOSPITALITY), 20),
        ],
        ("HK", false) => &[
            (AnyOf(HOUSEHOLD_MEN), 40),
            (One(&HOUSE_MAID), 20),
            (One(&GENERAL_WORKER), 20),
            (AnyOf(HOSPITALITY), 20),
        ],
        ("TW", false) => &[
            (One(&GENERAL_WORKER), 15),
            (One(&FISHING_CREW), 12),
            (One(&CAREGIVER), 5),
            (AnyOf(FACTORY_MEN), 42),
            (AnyOf(SEA), 11),
            (AnyOf(TRADES), 10),
            (AnyOf(FARM), 5),
        ],
        ("MY", false) => &[
            (One(&PLANTATION), 46),
            (One(&CONSTRUCTION), 16),
            (One(&GENERAL_WORKER), 11),
            (AnyOf(FACTORY_MEN), 14),
            (AnyOf(TRADES), 8),
            (AnyOf(HOSPITALITY), 5),
        ],
        ("SG", false) => &[
            (One(&CONSTRUCTION), 30),
            (One(&GENERAL_WORKER), 15),
            (AnyOf(TRADES), 35),
            (AnyOf(FACTORY_MEN), 10),
            (AnyOf(HOSPITALITY), 10),
        ],
        ("JP", false) => &[
            (One(&GENERAL_WORKER), 15),
            (One(&CONSTRUCTION), 5),
            (One(&PLANTATION), 5),
            (One(&FISHING_CREW), 8),
            (AnyOf(FACTORY_MEN), 37),
            (AnyOf(TRADES), 15),
            (AnyOf(FARM), 10),
            (AnyOf(SEA), 5),
        ],
        ("KR", false) => &[
            (One(&GENERAL_WORKER), 20),
            (One(&FISHING_CREW), 10),
            (One(&CONSTRUCTION), 3),
            (AnyOf(FACTORY_MEN), 52),
            (AnyOf(SEA), 10),
            (AnyOf(FARM), 5),
        ],
        ("IT", false) => &[(AnyOf(CRUISE), 85), (AnyOf(HOSPITALITY), 15)],
        ("ZM", false) => &[
            (AnyOf(TRADES), 60),
            (One(&CONSTRUCTION), 25),
            (One(&GENERAL_WORKER), 15),
        ],
        (_, false) if gulf => &[
            (One(&CONSTRUCTION), 25),
            (One(&GENERAL_WORKER), 15),
            (One(&HOUSE_MAID), 10),
            (AnyOf(HOUSEHOLD_MEN), 25),
            (AnyOf(TRADES), 10),
            (AnyOf(HOSPITALITY), 15),
        ],
        (_, false) if europe => &[
            (AnyOf(FACTORY_MEN), 40),
            (AnyOf(TRADES), 30),
            (One(&TRUCK_DRIVER), 10),
            (One(&GENERAL_WORKER), 20),
        ],
        (_, false) if resorts => &[(AnyOf(HOSPITALITY), 85), (AnyOf(TRADES), 15)],
        (_, false) if islands => &[
            (One(&FISHING_CREW), 35),
            (AnyOf(SEA), 30),
            (One(&PLANTATION), 15),
            (AnyOf(FARM), 20),
        ],
        (_, false) => &[
            (One(&CONSTRUCTION), 20),
            (One(&GENERAL_WORKER), 20),
            (One(&FISHING_CREW), 10),
            (AnyOf(TRADES), 20),
            (AnyOf(FACTORY_MEN), 15),
            (AnyOf(HOSPITALITY), 15),
        ],
    }
}

/// The destination's language(s) besides Indonesian, and how often English is spoken too.
fn destination_languages(country: &str) -> (&'static [&'static str], f64) {
    match country {
        "HK" | "MO" => (&["zh"], 0.4),
        "TW" | "CN" => (&["zh"], 0.15),
        "MY" => (&["ms"], 0.2),
        "BN" => (&["ms"], 0.3),
        "SG" => (&["en"], 0.0),
        "JP" => (&["ja"], 0.2),
        "KR" => (&["ko"], 0.2),
        "SA" | "AE" | "QA" | "KW" | "OM" | "BH" | "JO" => (&["ar"], 0.4),
        "IT" => (&["it"], 0.5),
        "TR" => (&["tr"], 0.5),
        "PL" => (&["pl"], 0.5),
        "HU" => (&["hu"], 0.5),
        "SK" => (&["sk"], 0.5),
        "RO" => (&["ro"], 0.5),
        "DE" => (&["de"], 0.5),
        "NL" => (&["nl"], 0.6),
        "CZ" => (&["cs"], 0.5),
        "LT" => (&["lt"], 0.5),
        "GR" => (&["el"], 0.5),
        "ES" => (&["es"], 0.4),
        "PT" => (&["pt"], 0.4),
        "FR" | "NC" => (&["fr"], 0.4),
        "TH" => (&["th"], 0.3),
        "VN" => (&["vi"], 0.3),
        _ => (&["en"], 0.0),
    }
}

const WOMEN_NAMES: &[&str] = &[
    "Siti", "Sri", "Nur", "Dewi", "Rina", "Wati", "Yuli", "Ani", "Eka", "Lestari", "Puji", "Tri",
    "Endang", "Suryani", "Kartini", "Fitri", "Ratna", "Indah", "Ayu", "Nurul", "Rini", "Umi",
    "Sulastri", "Mariyam", "Khotimah", "Susi",
];
const WOMEN_SECOND_NAMES: &[&str] = &[
    "Aminah",
    "Wahyuni",
    "Lestari",
    "Rahayu",
    "Handayani",
    "Susanti",
    "Purwanti",
    "Ningsih",
    "Astuti",
    "Maryati",
    "Fatimah",
    "Hidayah",
    "Rahmawati",
    "Yuliani",
];
const MEN_NAMES: &[&str] = &[
    "Budi", "Agus", "Slamet", "Joko", "Bambang", "Eko", "Rudi", "Ahmad", "Muhammad", "Dedi",
    "Hendra", "Yusuf", "Sugeng", "Wahyu", "Adi", "Heri", "Rahmat", "Imam", "Fajar", "Arif",
];
const MEN_SECOND_NAMES: &[&str] = &[
    "Santoso",
    "Hidayat",
    "Saputra",
    "Setiawan",
    "Wibowo",
    "Pratama",
    "Susilo",
    "Nugroho",
    "Kurniawan",
    "Prasetyo",
    "Firmansyah",
    "Hermawan",
];

/// HS 2022 chapters returning workers ask about: fish, coffee and spices, palm oil, prepared
/// fish, cocoa, bakery, prepared fruit, food preparations, essential oils, wood, basketwork,
/// apparel, jewellery, furniture.
const HS_CHAPTERS: &[&str] = &[
    "03", "09", "15", "16", "18", "19", "20", "21", "33", "44", "46", "61", "62", "71", "94",
];

/// Purposes a worker may consent to besides business matching, and how often.
const OTHER_PURPOSES: &[(v1::Purpose, f64)] = &[
    (v1::Purpose::CapacityBuilding, 0.7),
    (v1::Purpose::MarketIntelligence, 0.25),
    (v1::Purpose::ExportPromotion, 0.3),
    (v1::Purpose::MarketAccess, 0.4),
    (v1::Purpose::ProgramMonitoring, 0.5),
    (v1::Purpose::Statistics, 0.5),
];

const EDUCATION: &[(v1::Education, u32)] = &[
    (v1::Education::None, 1),
    (v1::Education::Primary, 22),
    (v1::Education::JuniorSecondary, 38),
    (v1::Education::SeniorSecondary, 22),
    (v1::Education::VocationalSecondary, 10),
    (v1::Education::Diploma, 5),
    (v1::Education::Bachelor, 2),
];

/// Japan and Korea select for schooling.
const EDUCATION_SELECTIVE: &[(v1::Education, u32)] = &[
    (v1::Education::JuniorSecondary, 20),
    (v1::Education::SeniorSecondary, 40),
    (v1::Education::VocationalSecondary, 25),
    (v1::Education::Diploma, 10),
    (v1::Education::Bachelor, 5),
];

/// The 424 licensed placement agencies of 2024.
const P3MI_COUNT: u64 = 424;

/// Synthetic placements, one after another.
#[derive(Debug)]
pub struct Generator {
    rng: SplitMix64,
    seed: u64,
    consent_rate: f64,
    today: Date,
    index: u64,
    /// Serials given per NIK prefix (kecamatan and birth date), so that no NIK repeats.
    serials: HashMap<u64, u16>,
}

impl Generator {
    /// Records for `seed`, with consent for `consent_rate` of the workers, dated around `today`.
    pub fn new(seed: u64, consent_rate: f64, today: Date) -> Self {
        Self {
            rng: SplitMix64::new(seed),
            seed,
            consent_rate,
            today,
            index: 0,
            serials: HashMap::new(),
        }
    }

    /// The next record.
    pub fn placement(&mut self) -> v1::Placement {
        self.index += 1;
        let rng = &mut self.rng;
        let today = self.today;

        let destination = pick_destination(rng);
        let woman = rng.below(1000) < destination.women_permille;
        let occupation = match rng.weighted(occupations(destination.code, woman)) {
            Work::One(occupation) => *occupation,
            Work::AnyOf(group) => *rng.weighted(group),
        };
        let origin = pick_origin(rng);
        let (regency, province) = (origin.code, origin.province);

        // The timeline: a two-year contract ending within a year of today either way; for a
        // few, one that has just started or has not started yet.
        let roll = rng.below(100);
        let registered = roll < 8;
        let (contract_start, contract_end) = if roll < 13 {
            let start = if registered {
                today + Duration::days(rng.between(15, 120))
            } else {
                today - Duration::days(rng.between(0, 25))
            };
            (start, years_later(start, 2) - Duration::days(1))
        } else {
            let end = today + Duration::days(rng.between(-365, 365));
            (years_earlier(end + Duration::days(1), 2), end)
        };
        let departure =
            contract_start - Duration::days(rng.between(1, 4 + 10 * i64::from(roll >= 13)));
        let (status, return_date, return_kind) = if registered {
            (
                v1::PlacementStatus::Registered,
                contract_end,
                v1::ReturnDateKind::Expected,
            )
        } else if contract_end > today {
            let status = if rng.chance(0.01) {
                v1::PlacementStatus::InTrouble
            } else if (today - departure).whole_days() < 30 {
                v1::PlacementStatus::Departed
            } else {
                v1::PlacementStatus::Working
            };
            (status, contract_end, v1::ReturnDateKind::Expected)
        } else if rng.chance(0.88) {
            let back = (contract_end + Duration::days(rng.between(0, 20))).min(today);
            (
                v1::PlacementStatus::Returned,
                back,
                v1::ReturnDateKind::Actual,
            )
        } else {
            (
                v1::PlacementStatus::ContractEnded,
                today + Duration::days(rng.between(1, 30)),
                v1::ReturnDateKind::Expected,
            )
        };

        // Age 21 to 40 at the start of the contract, most around 30.
        let age = 21 + rng.between(0, 9) + rng.between(0, 10);
        let birth_date = years_earlier(contract_start, age) - Duration::days(rng.between(0, 364));

        let nik = self.nik(regency, origin.kecamatan_count, woman, birth_date);
        let rng = &mut self.rng;
        let full_name = full_name(rng, woman, province);
        let education = if matches!(destination.code, "JP" | "KR") {
            *rng.weighted(EDUCATION_SELECTIVE)
        } else {
            *rng.weighted(EDUCATION)
        };
        let languages = languages(rng, destination.code, province);

        let employer = if occupation.code == CAREGIVER.code && destination.code == "JP" {
            v1::EmployerType::LegalEntity
        } else {
            occupation.employer
        };
        let scheme = placement_scheme(rng, destination.code, employer);
        let p3mi_id = if scheme == v1::PlacementScheme::P2p {
            format!("P3MI-{:04}", 1 + rng.below(P3MI_COUNT))
        } else {
            String::new()
        };
        let sector = occupation
            .kbli
            .filter(|_| rng.chance(0.7))
            .map(|code| v1::Sector {
                kbli_code: code.to_owned(),
                kbli_version: 2020,
            });

        let certificates = if rng.chance(0.4) {
            let issued = departure - Duration::days(rng.between(30, 180));
            let (code, name, level) = occupation.scheme;
            vec![v1::CompetencyCertificate {
                scheme_code: code.to_owned(),
                scheme_name: name.to_owned(),
                kkni_level: level,
                lsp_id: format!("BNSP-LSP-{}-ID", rng.between(100, 2500)),
                issued_on: Some(proto_date(issued)),
                expires_on: Some(proto_date(years_later(issued, 3))),
            }]
        } else {
            Vec::new()
        };

        let home = matches!(
            status,
            v1::PlacementStatus::Returned | v1::PlacementStatus::ContractEnded
        );
        let business_interest = rng.chance(if home { 0.4 } else { 0.3 }).then(|| {
            let mut chapters: Vec<String> = (0..rng.between(1, 3))
                .map(|_| (*rng.pick(HS_CHAPTERS)).to_owned())
                .collect();
            chapters.sort();
            chapters.dedup();
            v1::BusinessInterest {
                wants_to_export: true,
                hs_chapters: chapters,
            }
        });

        // Consent is asked for at registration, before departure; it cannot lie in the future.
        let latest = at(today - Duration::days(1), 0);
        let consent = rng.chance(self.consent_rate).then(|| {
            let asked = contract_start.min(departure) - Duration::days(rng.between(20, 90));
            let granted = at(asked, rng.between(1, 9)).min(latest);
            let mut purposes = vec![v1::Purpose::BusinessMatching];
            for (purpose, share) in OTHER_PURPOSES {
                if rng.chance(*share) {
                    purposes.push(*purpose);
                }
            }
            purposes.sort_by_key(|p| *p as i32);
            let method = *rng.weighted(&[
                (v1::ConsentMethod::Electronic, 60),
                (v1::ConsentMethod::Written, 30),
                (v1::ConsentMethod::RecordedVerbal, 10),
            ]);
            let withdrawn = rng
                .chance(0.03)
                .then(|| granted + Duration::days(rng.between(30, 400)))
                .filter(|withdrawn| *withdrawn <= latest);
            v1::Consent {
                purposes: purposes.into_iter().map(|p| p as i32).collect(),
                granted_at: Some(proto_time(granted)),
                method: method as i32,
                withdrawn_at: withdrawn.map(proto_time),
            }
        });
        let contact = rng
            .chance(if consent.is_some() { 0.85 } else { 0.2 })
            .then(|| contact(rng, &full_name));

        let updated = at(
            (departure.min(today) + Duration::days(rng.between(0, 30))).min(today),
            rng.between(1, 9),
        )
        .min(latest);

        v1::Placement {
            placement_id: format!("DEMO-{}-{:07}", self.seed, self.index),
            version: 1,
            updated_at: Some(proto_time(updated)),
            nik,
            full_name,
            sex: if woman {
                v1::Sex::Female
            } else {
                v1::Sex::Male
            } as i32,
            birth_date: Some(proto_date(birth_date)),
            origin_regency_code: regency.to_owned(),
            education: education as i32,
            job_title: (*rng.pick(occupation.titles)).to_owned(),
            occupation_code: occupation.code.to_owned(),
            certificates,
            languages,
            destination_country: destination.code.to_owned(),
            employer_type: employer as i32,
            sector,
            p3mi_id,
            placement_scheme: scheme as i32,
            contract_start: Some(proto_date(contract_start)),
            contract_end: Some(proto_date(contract_end)),
            departure_date: (!registered).then(|| proto_date(departure)),
            status: status as i32,
            return_date: Some(proto_date(return_date)),
            return_date_kind: return_kind as i32,
            business_interest,
            contact,
            consent,
        }
    }

    /// A NIK: `PPKKCC` (a kecamatan of the regency), `DDMMYY` (women: day + 40), and the next
    /// serial for that prefix, from 0001.
    fn nik(&mut self, regency: &str, kecamatan_count: u8, woman: bool, birth: Date) -> String {
        let kecamatan = 1 + self.rng.below(u64::from(kecamatan_count.clamp(1, 30)));
        let day = birth.day() + if woman { 40 } else { 0 };
        let prefix = format!(
            "{}{kecamatan:02}{day:02}{:02}{:02}",
            regency.replace('.', ""),
            u8::from(birth.month()),
            birth.year().rem_euclid(100)
        );
        let key = prefix.parse::<u64>().unwrap_or(0);
        let serial = self.serials.entry(key).or_insert(0);
        *serial = (*serial % 9999) + 1;
        format!("{prefix}{serial:04}")
    }
}

impl Iterator for Generator {
    type Item = v1::Placement;

    fn next(&mut self) -> Option<v1::Placement> {
        Some(self.placement())
    }
}

fn pick_destination(rng: &mut SplitMix64) -> &'static Destination {
    let mut point = rng.below(DESTINATION_TOTAL);
    for destination in DESTINATIONS {
        if point < u64::from(destination.placements) {
            return destination;
        }
        point -= u64::from(destination.placements);
    }
    &DESTINATIONS[0]
}

fn full_name(rng: &mut SplitMix64, woman: bool, province: &str) -> String {
    let (first, second) = if woman {
        (rng.pick(WOMEN_NAMES), rng.pick(WOMEN_SECOND_NAMES))
    } else {
        (rng.pick(MEN_NAMES), rng.pick(MEN_SECOND_NAMES))
    };
    let mut name = match (province, woman) {
        ("51", true) => format!("Ni {} ", rng.pick(&["Luh", "Made", "Ketut", "Nyoman"])),
        ("51", false) => format!("I {} ", rng.pick(&["Wayan", "Made", "Ketut", "Nyoman"])),
        ("52", true) if rng.chance(0.3) => "Baiq ".to_owned(),
        ("52", false) if rng.chance(0.3) => "Lalu ".to_owned(),
        _ => String::new(),
    };
    name.push_str(first);
    // Many Javanese go by one name.
    if !rng.chance(0.15) {
        name.push(' ');
        name.push_str(second);
    }
    name
}

fn languages(rng: &mut SplitMix64, country: &str, province: &str) -> Vec<String> {
    let mut languages = vec!["id"];
    match province {
        "33" | "35" if rng.chance(0.6) => languages.push("jv"),
        "32" if rng.chance(0.6) => languages.push("su"),
        _ => {}
    }
    let (local, english) = destination_languages(country);
    if local == ["en"] || country == "SG" || rng.chance(0.9) {
        languages.extend_from_slice(local);
    }
    if rng.chance(english) {
        languages.push("en");
    }
    let mut out: Vec<String> = Vec::with_capacity(languages.len());
    for language in languages {
        if !out.iter().any(|l| l == language) {
            out.push(language.to_owned());
        }
    }
    out
}

fn placement_scheme(
    rng: &mut SplitMix64,
    country: &str,
    employer: v1::EmployerType,
) -> v1::PlacementScheme {
    match country {
        "KR" if rng.chance(0.95) => v1::PlacementScheme::G2g,
        "JP" if rng.chance(0.25) => v1::PlacementScheme::G2g,
        "KR" | "JP" => v1::PlacementScheme::P2p,
        _ => {
            let roll = rng.below(100);
            if roll < 8 {
                v1::PlacementScheme::Mandiri
            } else if roll < 15 && employer == v1::EmployerType::LegalEntity {
                v1::PlacementScheme::Ukps
            } else {
                v1::PlacementScheme::P2p
            }
        }
    }
}

fn contact(rng: &mut SplitMix64, full_name: &str) -> v1::Contact {
    const PREFIXES: &[&str] = &[
        "812", "813", "821", "822", "852", "853", "857", "858", "877", "878", "881", "895",
    ];
    let phone = format!("+62{}{:08}", rng.pick(PREFIXES), rng.below(100_000_000));
    let email = if rng.chance(0.6) {
        let local: String = full_name
            .to_ascii_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(".");
        format!("{local}{}@example.com", rng.between(1, 99))
    } else {
        String::new()
    };
    v1::Contact { phone, email }
}

/// `date` at `hour`:00 UTC.
fn at(date: Date, hour: i64) -> OffsetDateTime {
    let hour = u8::try_from(hour.clamp(0, 23)).unwrap_or(0);
    date.with_time(Time::from_hms(hour, 0, 0).unwrap_or(Time::MIDNIGHT))
        .assume_utc()
}

/// The same day `years` later (29 February becomes 28 February in a common year).
fn years_later(date: Date, years: i64) -> Date {
    shift_years(date, i32::try_from(years).unwrap_or(0))
}

/// The same day `years` earlier (29 February becomes 28 February in a common year).
fn years_earlier(date: Date, years: i64) -> Date {
    shift_years(date, -i32::try_from(years).unwrap_or(0))
}

fn shift_years(date: Date, years: i32) -> Date {
    let year = date.year() + years;
    Date::from_calendar_date(year, date.month(), date.day())
        .or_else(|_| Date::from_calendar_date(year, Month::February, 28))
        .unwrap_or(date)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> Date {
        Date::from_calendar_date(2026, Month::November, 20).expect("a date")
    }

    fn sample(seed: u64, n: usize) -> Vec<v1::Placement> {
        Generator::new(seed, 0.6, today()).take(n).collect()
    }

    fn date(d: &Option<v1::Date>) -> Date {
        jembatan_proto::convert::date::from_proto(d.as_ref().expect("a date")).expect("a real date")
    }

    fn moment(t: &prost_types::Timestamp) -> OffsetDateTime {
        jembatan_proto::convert::timestamp::from_proto(t).expect("a valid timestamp")
    }

    #[test]
    fn the_same_seed_gives_the_same_records() {
        assert_eq!(sample(7, 500), sample(7, 500));
    }

    #[test]
    fn different_seeds_give_different_records() {
        let (a, b) = (sample(1, 100), sample(2, 100));
        let same = a
            .iter()
            .zip(&b)
            .filter(|(x, y)| {
                x.nik == y.nik || x.full_name == y.full_name && x.birth_date == y.birth_date
            })
            .count();
        assert!(same < 5, "{same} of 100 alike");
    }

    #[test]
    fn about_63_percent_are_women() {
        let records = sample(1, 20_000);
        let women = records
            .iter()
            .filter(|p| p.sex == v1::Sex::Female as i32)
            .count();
        let share = women as f64 / records.len() as f64;
        assert!((0.60..=0.66).contains(&share), "{share}");
    }

    #[test]
    fn destinations_and_occupations_follow_the_2024_figures() {
        let records = sample(3, 20_000);
        let share = |f: &dyn Fn(&v1::Placement) -> bool| {
            records.iter().filter(|p| f(p)).count() as f64 / records.len() as f64
        };
        // Hong Kong took 99,773 of 294,572 (34%), Taiwan 29%, Malaysia 18%.
        let hk = share(&|p| p.destination_country == "HK");
        assert!((0.31..=0.37).contains(&hk), "HK {hk}");
        let jatim = share(&|p| p.origin_regency_code.starts_with("35."));
        assert!((0.23..=0.29).contains(&jatim), "Jawa Timur {jatim}");
        let maids = share(&|p| p.occupation_code == "9111");
        assert!((0.28..=0.40).contains(&maids), "house maids {maids}");
        let speaks = |country: &str, language: &str| {
            let workers: Vec<_> = records
                .iter()
                .filter(|p| p.destination_country == country)
                .collect();
            let speaking = workers
                .iter()
                .filter(|p| p.languages.iter().any(|l| l == language))
                .count();
            speaking as f64 / workers.len().max(1) as f64
        };
        assert!(speaks("HK", "zh") > 0.85);
        assert!(speaks("MY", "ms") > 0.85);
        assert!(speaks("SA", "ar") > 0.85);
        assert!(speaks("HK", "ko") == 0.0 && speaks("KR", "zh") == 0.0);
        assert!(records.iter().all(|p| p.languages[0] == "id"));
    }

    #[test]
    fn the_five_big_occupations_keep_their_2024_shares_and_lead_a_long_tail() {
        let records = sample(3, 20_000);
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for p in &records {
            *counts.entry(p.occupation_code.as_str()).or_default() += 1;
        }
        let share = |code: &str| counts.get(code).copied().unwrap_or(0) as f64 / 20_000.0;
        // Of 297,434: caregivers 17.3%, general workers 7.5%, plantation workers 6.7%,
        // construction workers 2.9%.
        for (code, low, high) in [
            ("5322", 0.14, 0.21),
            ("9329", 0.06, 0.10),
            ("9211", 0.05, 0.085),
            ("9313", 0.018, 0.04),
        ] {
            assert!(
                (low..=high).contains(&share(code)),
                "{code} {}",
                share(code)
            );
        }
        let big = ["9111", "5322", "9329", "9211", "9313"];
        let tail: Vec<_> = counts.keys().filter(|code| !big.contains(code)).collect();
        assert!(tail.len() >= 30, "{} occupations in the tail", tail.len());
        let largest = tail.iter().map(|code| share(code)).fold(0.0, f64::max);
        assert!(largest < 0.03, "a tail occupation has {largest}");
        let in_tail: f64 = tail.iter().map(|code| share(code)).sum();
        assert!((0.25..=0.38).contains(&in_tail), "tail {in_tail}");
    }

    #[test]
    fn origins_destinations_and_occupations_have_long_tails_of_real_codes() {
        let records = sample(17, 20_000);
        let mut regencies = HashMap::new();
        let mut occupations = std::collections::HashSet::new();
        let mut countries = std::collections::HashSet::new();
        for p in &records {
            let regency = Regency::parse(&p.origin_regency_code).expect("a regency");
            *regencies.entry(regency).or_insert(0usize) += 1;
            jembatan_domain::Occupation::parse(&p.occupation_code).expect("an occupation");
            occupations.insert(p.occupation_code.as_str());
            jembatan_domain::Country::parse(&p.destination_country).expect("a country");
            countries.insert(p.destination_country.as_str());
            for language in &p.languages {
                jembatan_domain::Language::parse(language).expect("a language");
            }
        }
        assert!(regencies.len() >= 250, "{} regencies", regencies.len());
        assert!(occupations.len() >= 30, "{} occupations", occupations.len());
        assert!(countries.len() >= 30, "{} countries", countries.len());
        let provinces: std::collections::HashSet<_> =
            regencies.keys().map(Regency::province).collect();
        assert!(provinces.len() >= 30, "{} provinces", provinces.len());
        // Within Jawa Timur, its 38 regencies and cities nearly all appear, and the leading
        // five take over a third.
        let mut east_java: Vec<usize> = regencies
            .iter()
            .filter(|(regency, _)| regency.province() == "35")
            .map(|(_, n)| *n)
            .collect();
        east_java.sort_unstable_by(|a, b| b.cmp(a));
        assert!(east_java.len() >= 35, "{} in Jawa Timur", east_java.len());
        let leading = east_java[..5].iter().sum::<usize>() as f64;
        let all = east_java.iter().sum::<usize>() as f64;
        assert!(leading / all > 0.35, "leading five {}", leading / all);
    }

    #[test]
    fn the_tables_hold_real_codes_and_add_up_to_the_2024_placements() {
        assert_eq!(DESTINATION_TOTAL, 297_434);
        let provinces: u32 = PROVINCES.iter().map(|(_, n)| n).sum();
        assert_eq!(provinces, 297_434);
        for (i, destination) in DESTINATIONS.iter().enumerate() {
            jembatan_domain::Country::parse(destination.code).expect(destination.code);
            assert!(destination.women_permille <= 1000, "{}", destination.code);
            // The tail stays below the twentieth named country, Romania with 377.
            assert!(
                i < 20 || destination.placements < 377,
                "{}",
                destination.code
            );
            for woman in [true, false] {
                for (work, weight) in occupations(destination.code, woman) {
                    assert!(*weight > 0);
                    let group = match work {
                        Work::One(occupation) => vec![*occupation],
                        Work::AnyOf(group) => group.iter().map(|(o, _)| *o).collect(),
                    };
                    for occupation in group {
                        let code = occupation.code;
                        jembatan_domain::Occupation::parse(code).expect(code);
                        assert!(!occupation.titles.is_empty(), "{code}");
                        jembatan_domain::Certificate::check_scheme_code(occupation.scheme.0)
                            .expect(code);
                        assert!((1..=9).contains(&occupation.scheme.2), "{code}");
                        if let Some(kbli) = occupation.kbli {
                            assert!(kbli.len() == 5 && kbli.bytes().all(|b| b.is_ascii_digit()));
                        }
                    }
                }
            }
        }
        for (code, name, kecamatan) in LEADING_REGENCIES {
            let regency = Regency::parse(code).expect(code);
            assert_eq!(regency.name(), *name);
            assert!(
                PROVINCES.iter().any(|(p, _)| *p == regency.province()),
                "{code}"
            );
            assert!((1..=30).contains(kecamatan), "{code}");
        }
        // Every regency and city can be drawn, each province as a whole by its figure, and
        // within a province no regency after the first outweighs the one before it.
        assert_eq!(ORIGINS.len(), Regency::all().count());
        let weights: Vec<u64> = ORIGINS
            .iter()
            .scan(0, |before, origin| {
                let weight = origin.upto - *before;
                *before = origin.upto;
                Some(weight)
            })
            .collect();
        let mut province_weights: HashMap<&str, u64> = HashMap::new();
        for (i, (origin, weight)) in ORIGINS.iter().zip(&weights).enumerate() {
            assert!(*weight > 0, "{}", origin.code);
            if i > 0 && ORIGINS[i - 1].province == origin.province {
                assert!(*weight <= weights[i - 1], "{}", origin.code);
            }
            assert!(
                (1..=30).contains(&origin.kecamatan_count),
                "{}",
                origin.code
            );
            *province_weights.entry(origin.province).or_default() += weight;
        }
        assert_eq!(province_weights.len(), 38);
        let first = |province: &str| ORIGINS.iter().find(|o| o.province == province);
        assert_eq!(first("35").map(|o| o.code), Some("35.07"));
        assert_eq!(first("32").map(|o| o.code), Some("32.12"));
        for (province, placements) in PROVINCES {
            let weight = province_weights[province] as f64 / 1e6;
            assert!(
                (weight - f64::from(*placements)).abs() < 1.0,
                "{province} {weight}"
            );
        }
    }

    #[test]
    fn niks_agree_with_sex_birth_date_and_origin_and_never_repeat() {
        let records = sample(5, 20_000);
        let mut seen = std::collections::HashSet::new();
        for p in &records {
            let nik = &p.nik;
            assert_eq!(nik.len(), 16, "{nik}");
            assert!(nik.bytes().all(|b| b.is_ascii_digit()), "{nik}");
            assert!(seen.insert(nik.clone()), "{nik} twice");
            assert_eq!(&nik[0..4], p.origin_regency_code.replace('.', ""));
            let kecamatan: u8 = nik[4..6].parse().expect("digits");
            assert!((1..=30).contains(&kecamatan), "{nik}");
            let birth = date(&p.birth_date);
            let day: u8 = nik[6..8].parse().expect("digits");
            let woman = p.sex == v1::Sex::Female as i32;
            assert_eq!(day, birth.day() + if woman { 40 } else { 0 }, "{nik}");
            assert_eq!(nik[8..10].parse::<u8>().ok(), Some(u8::from(birth.month())));
            assert_eq!(
                nik[10..12].parse::<i32>().ok(),
                Some(birth.year().rem_euclid(100))
            );
            assert_ne!(&nik[12..16], "0000");
            let age = (today() - birth).whole_days() / 365;
            assert!((20..=45).contains(&age), "age {age}");
        }
    }

    #[test]
    fn dates_are_in_order_and_statuses_fit_them() {
        for p in sample(11, 20_000) {
            let (start, end) = (date(&p.contract_start), date(&p.contract_end));
            assert!(end > start, "{}", p.placement_id);
            let days = (end - start).whole_days();
            assert!((729..=731).contains(&days), "contract of {days} days");
            let back = date(&p.return_date);
            let status = p.status();
            if let Some(departure) = &p.departure_date {
                assert!(back > date(&Some(*departure)), "{}", p.placement_id);
                assert!(date(&Some(*departure)) < start);
            } else {
                assert_eq!(status, v1::PlacementStatus::Registered);
                assert!(back > start);
            }
            let actual = p.return_date_kind() == v1::ReturnDateKind::Actual;
            assert_eq!(actual, status == v1::PlacementStatus::Returned);
            if actual {
                assert!(back <= today());
            }
            assert!((back - today()).whole_days().abs() <= 2 * 365 + 150);
            if let Some(consent) = &p.consent {
                assert!(
                    consent
                        .purposes
                        .contains(&(v1::Purpose::BusinessMatching as i32))
                );
                let granted = moment(consent.granted_at.as_ref().expect("granted"));
                assert!(granted.date() < today());
                if let Some(withdrawn) = &consent.withdrawn_at {
                    assert!(moment(withdrawn) >= granted);
                }
            }
            let p2p = p.placement_scheme() == v1::PlacementScheme::P2p;
            assert_eq!(p2p, !p.p3mi_id.is_empty());
            let chapters = p
                .business_interest
                .map(|b| b.hs_chapters)
                .unwrap_or_default();
            assert!(chapters.windows(2).all(|w| w[0] < w[1]));
        }
    }

    #[test]
    fn returns_spread_over_the_past_and_the_next_year() {
        let records = sample(13, 10_000);
        let past = records
            .iter()
            .filter(|p| date(&p.return_date) <= today())
            .count();
        let share = past as f64 / records.len() as f64;
        assert!((0.30..=0.50).contains(&share), "{share}");
        let consented = records.iter().filter(|p| p.consent.is_some()).count();
        let share = consented as f64 / records.len() as f64;
        assert!((0.57..=0.63).contains(&share), "consent {share}");
    }
}
