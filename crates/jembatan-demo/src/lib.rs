//! Synthetic placement records that look like KP2MI's: destinations weighted by the 2024
//! placements, provinces of origin likewise, about 63% women, the five big occupations (house
//! maids, caregivers, general workers, plantation and construction workers, and fishing crews),
//! languages that fit the destination, NIKs that agree with sex and birth date, two-year
//! contracts ending over the past and the next twelve months, and consent for a share of the
//! workers. Figures: the 2024 placement figures of the project's domain notes ("Realistic
//! figures").
//!
//! Pure and deterministic: the same seed and the same `today` give the same records. Region
//! codes are real Kemendagri codes; certificate scheme codes, P3MI and LSP numbers, names and
//! contact details are made up.

#![forbid(unsafe_code)]

use std::collections::HashMap;

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
/// fishing boats in Taiwan, Korea and Japan, plantations in Malaysia.
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
];

const fn dest(code: &'static str, placements: u32, women_permille: u64) -> Destination {
    Destination {
        code,
        placements,
        women_permille,
    }
}

/// Provinces of origin 2024 (DOMAIN.md): the five large ones as given, the next five with a
/// few thousand each.
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
];

/// Regencies and cities of origin per province: Kemendagri code, name, and the number of its
/// kecamatan used in NIKs (at most 30). Checked against the Kemendagri code list.
const REGENCIES: &[(&str, &str, u8)] = &[
    ("35.02", "Kabupaten Ponorogo", 21),
    ("35.03", "Kabupaten Trenggalek", 14),
    ("35.04", "Kabupaten Tulungagung", 19),
    ("35.05", "Kabupaten Blitar", 22),
    ("35.06", "Kabupaten Kediri", 26),
    ("35.07", "Kabupaten Malang", 30),
    ("35.09", "Kabupaten Jember", 30),
    ("35.10", "Kabupaten Banyuwangi", 25),
    ("35.17", "Kabupaten Jombang", 21),
    ("35.19", "Kabupaten Madiun", 15),
    ("33.01", "Kabupaten Cilacap", 24),
    ("33.02", "Kabupaten Banyumas", 27),
    ("33.05", "Kabupaten Kebumen", 26),
    ("33.15", "Kabupaten Grobogan", 19),
    ("33.18", "Kabupaten Pati", 21),
    ("33.24", "Kabupaten Kendal", 20),
    ("33.29", "Kabupaten Brebes", 17),
    ("32.02", "Kabupaten Sukabumi", 30),
    ("32.03", "Kabupaten Cianjur", 30),
    ("32.09", "Kabupaten Cirebon", 30),
    ("32.10", "Kabupaten Majalengka", 26),
    ("32.12", "Kabupaten Indramayu", 30),
    ("32.13", "Kabupaten Subang", 30),
    ("32.15", "Kabupaten Karawang", 30),
    ("52.01", "Kabupaten Lombok Barat", 10),
    ("52.02", "Kabupaten Lombok Tengah", 12),
    ("52.03", "Kabupaten Lombok Timur", 21),
    ("52.04", "Kabupaten Sumbawa", 24),
    ("18.01", "Kabupaten Lampung Selatan", 17),
    ("18.02", "Kabupaten Lampung Tengah", 28),
    ("18.07", "Kabupaten Lampung Timur", 24),
    ("51.08", "Kabupaten Buleleng", 9),
    ("51.71", "Kota Denpasar", 4),
    ("12.07", "Kabupaten Deli Serdang", 22),
    ("12.71", "Kota Medan", 21),
    ("73.08", "Kabupaten Bone", 27),
    ("73.71", "Kota Makassar", 15),
    ("53.01", "Kabupaten Kupang", 24),
    ("53.71", "Kota Kupang", 6),
    ("36.03", "Kabupaten Tangerang", 29),
    ("36.04", "Kabupaten Serang", 29),
];

/// An occupation as placed: KBJI/ISCO code, job titles as placement files write them, the
/// usual employer, a KBLI 2020 business line, and a (made-up) competency scheme.
struct Occupation {
    code: &'static str,
    titles: &'static [&'static str],
    employer: v1::EmployerType,
    kbli: Option<&'static str>,
    scheme: (&'static str, &'static str, u32),
}

const HOUSE_MAID: Occupation = Occupation {
    code: "9111",
    titles: &[
        "Penata Laksana Rumah Tangga",
        "Domestic Helper",
        "Housemaid",
    ],
    employer: v1::EmployerType::Individual,
    kbli: Some("97000"),
    scheme: ("SKM-PLRT-II", "Penata Laksana Rumah Tangga", 2),
};
const CAREGIVER: Occupation = Occupation {
    code: "5322",
    titles: &["Caregiver", "Perawat Lansia", "Pengasuh Lansia"],
    employer: v1::EmployerType::Individual,
    kbli: Some("97000"),
    scheme: ("SKM-CG-III", "Perawat Lansia (Caregiver)", 3),
};
const GENERAL_WORKER: Occupation = Occupation {
    code: "9329",
    titles: &["General Worker", "Operator Produksi", "Factory Worker"],
    employer: v1::EmployerType::LegalEntity,
    kbli: None,
    scheme: ("SKM-OPR-II", "Operator Produksi", 2),
};
const PLANTATION: Occupation = Occupation {
    code: "9211",
    titles: &[
        "Plantation Worker",
        "Pekerja Perkebunan Sawit",
        "Pekerja Ladang",
    ],
    employer: v1::EmployerType::LegalEntity,
    kbli: Some("01262"),
    scheme: ("SKM-PKB-II", "Pekerja Perkebunan", 2),
};
const CONSTRUCTION: Occupation = Occupation {
    code: "9313",
    titles: &[
        "Construction Worker",
        "Pekerja Konstruksi",
        "Tukang Bangunan",
    ],
    employer: v1::EmployerType::LegalEntity,
    kbli: Some("41011"),
    scheme: ("SKM-TKB-II", "Tukang Bangunan Gedung", 2),
};
const FISHING_CREW: Occupation = Occupation {
    code: "9216",
    titles: &[
        "Fishing Crew",
        "Anak Buah Kapal Perikanan",
        "Awak Kapal Ikan",
    ],
    employer: v1::EmployerType::Seafarer,
    kbli: Some("03111"),
    scheme: ("SKM-ABK-II", "Awak Kapal Perikanan", 2),
};

/// Occupations of women and of men by destination, weighted.
fn occupations(country: &str, woman: bool) -> &'static [(&'static Occupation, u32)] {
    let gulf = matches!(country, "SA" | "AE" | "QA" | "KW");
    match (country, woman) {
        ("HK", true) => &[(&HOUSE_MAID, 75), (&CAREGIVER, 25)],
        ("TW", true) => &[(&CAREGIVER, 65), (&HOUSE_MAID, 15), (&GENERAL_WORKER, 20)],
        ("MY", true) => &[(&HOUSE_MAID, 40), (&GENERAL_WORKER, 35), (&PLANTATION, 25)],
        ("SG", true) => &[(&HOUSE_MAID, 85), (&CAREGIVER, 15)],
        ("JP", true) => &[(&CAREGIVER, 50), (&GENERAL_WORKER, 35), (&PLANTATION, 15)],
        ("KR", true) => &[(&GENERAL_WORKER, 100)],
        ("BN", true) => &[(&HOUSE_MAID, 80), (&GENERAL_WORKER, 20)],
        (_, true) if gulf => &[(&HOUSE_MAID, 90), (&CAREGIVER, 10)],
        (_, true) => &[(&HOUSE_MAID, 40), (&GENERAL_WORKER, 40), (&CAREGIVER, 20)],
        ("HK", false) => &[(&GENERAL_WORKER, 60), (&HOUSE_MAID, 40)],
        ("TW", false) => &[(&GENERAL_WORKER, 60), (&FISHING_CREW, 30), (&CAREGIVER, 10)],
        ("MY", false) => &[
            (&PLANTATION, 50),
            (&CONSTRUCTION, 25),
            (&GENERAL_WORKER, 25),
        ],
        ("SG", false) => &[(&CONSTRUCTION, 50), (&GENERAL_WORKER, 50)],
        ("JP", false) => &[
            (&GENERAL_WORKER, 45),
            (&CONSTRUCTION, 20),
            (&PLANTATION, 15),
            (&FISHING_CREW, 20),
        ],
        ("KR", false) => &[
            (&GENERAL_WORKER, 70),
            (&FISHING_CREW, 20),
            (&CONSTRUCTION, 10),
        ],
        (_, false) if gulf => &[
            (&CONSTRUCTION, 50),
            (&GENERAL_WORKER, 30),
            (&HOUSE_MAID, 20),
        ],
        (_, false) => &[
            (&CONSTRUCTION, 40),
            (&GENERAL_WORKER, 40),
            (&FISHING_CREW, 20),
        ],
    }
}

/// The destination's language(s) besides Indonesian, and how often English is spoken too.
fn destination_languages(country: &str) -> (&'static [&'static str], f64) {
    match country {
        "HK" => (&["zh"], 0.4),
        "TW" => (&["zh"], 0.15),
        "MY" => (&["ms"], 0.2),
        "BN" => (&["ms"], 0.3),
        "SG" => (&["en"], 0.0),
        "JP" => (&["ja"], 0.2),
        "KR" => (&["ko"], 0.2),
        "SA" | "AE" | "QA" | "KW" => (&["ar"], 0.4),
        "IT" => (&["it"], 0.5),
        "TR" => (&["tr"], 0.5),
        "PL" => (&["pl"], 0.5),
        "HU" => (&["hu"], 0.5),
        "SK" => (&["sk"], 0.5),
        "RO" => (&["ro"], 0.5),
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
        let occupation = *rng.weighted(occupations(destination.code, woman));
        let province = *rng.weighted(PROVINCES);
        let regencies: Vec<&(&str, &str, u8)> = REGENCIES
            .iter()
            .filter(|(code, _, _)| code.starts_with(province))
            .collect();
        let (regency, _, kecamatan_count) = **rng.pick(&regencies);

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

        let nik = self.nik(regency, kecamatan_count, woman, birth_date);
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
    let total: u64 = DESTINATIONS.iter().map(|d| u64::from(d.placements)).sum();
    let mut point = rng.below(total);
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
