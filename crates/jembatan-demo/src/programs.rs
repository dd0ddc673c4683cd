//! Synthetic export programs as Kemendag publishes them (Desa BISA Ekspor in the regencies
//! workers come from, UMKM BISA Ekspor per province or nationwide, export training, trade
//! missions to the countries they work in), and the enrolments KP2MI records of workers whose
//! consent covers capacity building: returned workers in programs of their regency, province
//! or nationwide ones, workers abroad in online training and in trade missions to their
//! country, within each program's capacity.

use jembatan_domain::Regency;
use jembatan_proto::convert::date::{from_proto as date_of, to_proto as proto_date};
use jembatan_proto::v1;
use time::{Date, Duration};

use crate::market::pick_product;
use crate::places::{self, PLACES};
use crate::products::Product;
use crate::{SplitMix64, pick_destination, pick_origin};

/// Kinds of program, weighted.
const KINDS: &[(v1::ProgramKind, u32)] = &[
    (v1::ProgramKind::DesaBisaEkspor, 30),
    (v1::ProgramKind::UmkmBisaEkspor, 25),
    (v1::ProgramKind::Training, 25),
    (v1::ProgramKind::TradeMission, 20),
];

/// Themes of UMKM BISA Ekspor and of trade missions, with their HS chapters.
const THEMES: &[(&str, &[&str])] = &[
    ("Food and Beverages", &["19", "20", "21", "16"]),
    ("Coffee, Tea and Spices", &["09"]),
    ("Fashion and Modest Wear", &["61", "62", "64"]),
    ("Home Decor and Crafts", &["46", "94", "44"]),
    ("Jewellery and Accessories", &["71", "62"]),
    ("Seafood", &["03", "16"]),
    ("Cocoa and Coconut Products", &["18", "08", "20"]),
    ("Essential Oils and Herbal Products", &["33", "21"]),
];

/// Export training topics.
const TOPICS: &[&str] = &[
    "Export Procedures and Documents",
    "Digital Marketing for Export",
    "Halal Certification for Export",
    "Packaging and Labelling for Export Markets",
    "Export Costing and Incoterms",
    "Product Photography and Online Catalogues",
    "Preparing for Business Matching",
];

const DITJEN_PEN: &str =
    "Direktorat Jenderal Pengembangan Ekspor Nasional, Kementerian Perdagangan";
const TRAINING_CENTRE: &str =
    "Balai Besar Pendidikan dan Pelatihan Ekspor Indonesia (BBPPEI), Kementerian Perdagangan";

/// The trade representation that runs missions to a country.
fn representation(country: &str) -> String {
    let office = match country {
        "JP" => "ITPC Osaka",
        "KR" => "ITPC Busan",
        "AE" => "ITPC Dubai",
        "SA" => "ITPC Jeddah",
        "IT" => "ITPC Milan",
        "DE" => "ITPC Hamburg",
        "HU" => "ITPC Budapest",
        "AU" => "ITPC Sydney",
        "US" => "ITPC Los Angeles",
        "CA" => "ITPC Vancouver",
        "FR" => "ITPC Lyon",
        "ES" => "ITPC Barcelona",
        "ZA" => "ITPC Johannesburg",
        "TW" => "Kantor Dagang dan Ekonomi Indonesia (KDEI) Taipei",
        "HK" => "Konsulat Jenderal RI Hong Kong",
        _ => {
            let name = places::of(country).map_or(country, |p| p.name);
            return format!(
                "Atase Perdagangan, Perwakilan RI di {}",
                name.strip_prefix("the ").unwrap_or(name)
            );
        }
    };
    office.to_owned()
}

/// A few dozen programs for `seed`, running around `today`; ids `DEMO-<seed>-P<n>`. The same
/// seed and day give the same programs.
pub fn programs(seed: u64, today: Date, count: usize) -> Vec<v1::ExportProgram> {
    let mut rng = SplitMix64::new(seed ^ 0x7072_6f67_7261_6d01);
    (1..=count)
        .map(|n| {
            let kind = *rng.weighted(KINDS);
            let mut program = match kind {
                v1::ProgramKind::DesaBisaEkspor => desa(&mut rng, today),
                v1::ProgramKind::UmkmBisaEkspor => umkm(&mut rng, today),
                v1::ProgramKind::Training => training(&mut rng, today),
                _ => mission(&mut rng, today),
            };
            program.program_id = format!("DEMO-{seed}-P{n:03}");
            program.version = 1;
            program.kind = kind as i32;
            program
        })
        .collect()
}

/// A village product line, by weight.
fn village_product(rng: &mut SplitMix64) -> &'static Product {
    loop {
        let product = pick_product(rng);
        if product.village {
            return product;
        }
    }
}

/// `low` to `high` draws of destination countries, by placements, none twice.
fn markets(rng: &mut SplitMix64, low: i64, high: i64) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for _ in 0..rng.between(low, high) {
        let code = pick_destination(rng).code.to_owned();
        if !out.contains(&code) {
            out.push(code);
        }
    }
    out
}

/// `start` and `start + days`.
fn span(start: Date, days: i64) -> (Option<v1::Date>, Option<v1::Date>) {
    (
        Some(proto_date(start)),
        Some(proto_date(start + Duration::days(days))),
    )
}

fn capacity(rng: &mut SplitMix64, low: i64, high: i64, step: i64) -> u32 {
    u32::try_from(rng.between(low / step, high / step) * step).unwrap_or(0)
}

fn desa(rng: &mut SplitMix64, today: Date) -> v1::ExportProgram {
    let origin = pick_origin(rng);
    let regency = Regency::parse(origin.code).ok();
    let (place, province) = regency
        .as_ref()
        .map_or(("", ""), |r| (r.name(), r.province_name()));
    let mut regency_codes = vec![origin.code.to_owned()];
    if rng.chance(0.3) {
        // A neighbouring regency of the same province joins.
        for _ in 0..20 {
            let other = pick_origin(rng);
            if other.province == origin.province && other.code != origin.code {
                regency_codes.push(other.code.to_owned());
                break;
            }
        }
    }
    let product = village_product(rng);
    let (name, _) = *rng.pick(product.items);
    let mut hs_chapters = vec![product.chapter.to_owned()];
    if rng.chance(0.3) {
        let other = village_product(rng).chapter.to_owned();
        if !hs_chapters.contains(&other) {
            hs_chapters.push(other);
        }
    }
    let start = today + Duration::days(rng.between(-240, 90));
    let (starts_on, ends_on) = span(start, rng.between(120, 270));
    v1::ExportProgram {
        name: format!("Desa BISA Ekspor {place}: {}", title_case(name)),
        description: format!(
            "Export readiness coaching for villages of {place}, {province}: product quality and \
             curation, packaging, certification, costing and first buyer contacts for {name}. \
             Open to village enterprises (BUMDes), cooperatives and returned migrant workers."
        ),
        organizer: format!("{DITJEN_PEN}, with Dinas Perdagangan Provinsi {province}"),
        target_countries: markets(rng, 1, 3),
        hs_chapters,
        regency_codes,
        starts_on,
        ends_on,
        capacity: capacity(rng, 40, 120, 5),
        ..v1::ExportProgram::default()
    }
}

fn umkm(rng: &mut SplitMix64, today: Date) -> v1::ExportProgram {
    let (theme, chapters) = *rng.pick(THEMES);
    let province = rng.chance(0.6).then(|| pick_origin(rng).province);
    let province_name = province
        .and_then(jembatan_domain::region::province_name)
        .unwrap_or("Nasional");
    let start = today + Duration::days(rng.between(-200, 60));
    let (starts_on, ends_on) = span(start, rng.between(90, 180));
    v1::ExportProgram {
        name: format!("UMKM BISA Ekspor {province_name}: {theme}"),
        description: format!(
            "Export facilitation for small businesses in {}: curation, export coaching, product \
             registration, online catalogues and business matching with buyers abroad. Returned \
             migrant workers with a running business are welcome.",
            theme.to_lowercase()
        ),
        organizer: DITJEN_PEN.to_owned(),
        target_countries: markets(rng, 2, 4),
        hs_chapters: chapters.iter().map(|c| (*c).to_owned()).collect(),
        regency_codes: province.map(str::to_owned).into_iter().collect(),
        starts_on,
        ends_on,
        capacity: capacity(rng, 50, 300, 10),
        ..v1::ExportProgram::default()
    }
}

fn training(rng: &mut SplitMix64, today: Date) -> v1::ExportProgram {
    let topic = *rng.pick(TOPICS);
    let province = rng.chance(0.5).then(|| pick_origin(rng).province);
    // Nationwide courses are online, some open to all.
    let online = province.is_none();
    let start = today + Duration::days(rng.between(-150, 90));
    let days = if online {
        rng.between(14, 42)
    } else {
        rng.between(1, 5)
    };
    let (starts_on, ends_on) = span(start, days - 1);
    let hs_chapters = if rng.chance(0.5) {
        vec![village_product(rng).chapter.to_owned()]
    } else {
        Vec::new()
    };
    let where_ = province
        .and_then(jembatan_domain::region::province_name)
        .map_or_else(|| "online".to_owned(), |name| format!("in {name}"));
    v1::ExportProgram {
        name: format!("Pelatihan Ekspor: {topic}"),
        description: format!(
            "Export training {where_} for returned migrant workers and small exporters: \
             {}, with exercises and a certificate of attendance.",
            topic.to_lowercase()
        ),
        organizer: TRAINING_CENTRE.to_owned(),
        target_countries: Vec::new(),
        hs_chapters,
        regency_codes: province.map(str::to_owned).into_iter().collect(),
        starts_on,
        ends_on,
        capacity: if online && rng.chance(0.5) {
            0
        } else {
            capacity(rng, 25, 150, 5)
        },
        ..v1::ExportProgram::default()
    }
}

fn mission(rng: &mut SplitMix64, today: Date) -> v1::ExportProgram {
    let country = pick_destination(rng).code;
    let place = places::of(country).unwrap_or(&PLACES[0]);
    let city = *rng.pick(place.cities);
    let (theme, chapters) = *rng.pick(THEMES);
    let start = today + Duration::days(rng.between(-180, 150));
    let (starts_on, ends_on) = span(start, rng.between(2, 6));
    let country_name = place.name.strip_prefix("the ").unwrap_or(place.name);
    let name = if rng.chance(0.5) {
        format!("Trade Mission to {country_name}: {theme}")
    } else {
        format!("Business Matching in {city}: {theme}")
    };
    v1::ExportProgram {
        name,
        description: format!(
            "Indonesian exporters meet importers in {city}, {country_name}: {}. Migrant workers \
             in {} and returned workers who know the market join as liaisons.",
            theme.to_lowercase(),
            place.name
        ),
        organizer: representation(country),
        target_countries: vec![country.to_owned()],
        hs_chapters: chapters.iter().map(|c| (*c).to_owned()).collect(),
        regency_codes: Vec::new(),
        starts_on,
        ends_on,
        capacity: capacity(rng, 15, 40, 5),
        ..v1::ExportProgram::default()
    }
}

/// Each word's first letter in upper case.
fn title_case(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_uppercase().chain(chars).collect()
            })
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A program as enrolments see it.
#[derive(Debug)]
struct Slot {
    id: String,
    kind: v1::ProgramKind,
    regency_codes: Vec<String>,
    target_countries: Vec<String>,
    starts: Date,
    ends: Date,
    capacity: u32,
    /// Places taken: enrolments not dropped.
    taken: u32,
}

/// Enrolments of the workers of a run of placements; ids `DEMO-<seed>-E<n>`. Given the same
/// seed, day, programs and placements, the same enrolments.
#[derive(Debug)]
pub struct Enrollments {
    rng: SplitMix64,
    seed: u64,
    rate: f64,
    today: Date,
    slots: Vec<Slot>,
    index: u64,
}

impl Enrollments {
    /// Enrolments in `programs` of about `rate` of the workers whose consent covers
    /// CAPACITY_BUILDING.
    pub fn new(seed: u64, rate: f64, today: Date, programs: &[v1::ExportProgram]) -> Self {
        let slots = programs
            .iter()
            .filter_map(|p| {
                let starts = date_of(p.starts_on.as_ref()?).ok()?;
                let ends = date_of(p.ends_on.as_ref()?).ok()?;
                Some(Slot {
                    id: p.program_id.clone(),
                    kind: p.kind(),
                    regency_codes: p.regency_codes.clone(),
                    target_countries: p.target_countries.clone(),
                    starts,
                    ends,
                    capacity: p.capacity,
                    taken: 0,
                })
            })
            .collect();
        Self {
            rng: SplitMix64::new(seed ^ 0x656e_726f_6c6d_0001),
            seed,
            rate,
            today,
            slots,
            index: 0,
        }
    }

    /// The enrolments of the worker of `placement`: none unless the worker's consent covers
    /// CAPACITY_BUILDING (and is not withdrawn); for about `rate` of those one, for a few
    /// two, in programs that fit the worker and have room.
    pub fn enrol(&mut self, placement: &v1::Placement) -> Vec<v1::Enrollment> {
        let consents = placement.consent.as_ref().is_some_and(|c| {
            c.withdrawn_at.is_none() && c.purposes.contains(&(v1::Purpose::CapacityBuilding as i32))
        });
        if !consents || !self.rng.chance(self.rate) {
            return Vec::new();
        }
        let worker = Worker::of(placement, self.today);
        let mut out = Vec::new();
        let mut joined: Vec<usize> = Vec::new();
        loop {
            let candidates: Vec<(usize, Date, u32)> = self
                .slots
                .iter()
                .enumerate()
                .filter(|(i, _)| !joined.contains(i))
                .filter_map(|(i, slot)| {
                    let (weight, opens) = worker.fits(slot, self.today)?;
                    Some((i, opens, weight))
                })
                .collect();
            let total: u64 = candidates.iter().map(|c| u64::from(c.2)).sum();
            if total == 0 {
                break;
            }
            let mut point = self.rng.below(total);
            let Some(&(i, opens, _)) = candidates.iter().find(|c| {
                let hit = point < u64::from(c.2);
                point = point.saturating_sub(u64::from(c.2));
                hit
            }) else {
                break;
            };
            joined.push(i);
            out.push(self.enrolment(placement, i, opens));
            if !self.rng.chance(0.15) {
                break;
            }
        }
        out
    }

    /// The enrolment of the worker of `placement` in program `i`, from `opens` on.
    fn enrolment(&mut self, placement: &v1::Placement, i: usize, opens: Date) -> v1::Enrollment {
        self.index += 1;
        let (rng, today) = (&mut self.rng, self.today);
        let slot = &mut self.slots[i];
        let latest = slot.ends.min(today);
        let spread = (latest - opens).whole_days().clamp(0, 60);
        let enrolled_on = opens + Duration::days(rng.between(0, spread));
        let status = if slot.ends < today {
            *rng.weighted(&[
                (v1::EnrollmentStatus::Completed, 72),
                (v1::EnrollmentStatus::Dropped, 22),
                (v1::EnrollmentStatus::Enrolled, 6),
            ])
        } else if slot.starts <= today {
            *rng.weighted(&[
                (v1::EnrollmentStatus::Enrolled, 85),
                (v1::EnrollmentStatus::Dropped, 12),
                (v1::EnrollmentStatus::Completed, 3),
            ])
        } else {
            *rng.weighted(&[
                (v1::EnrollmentStatus::Enrolled, 96),
                (v1::EnrollmentStatus::Dropped, 4),
            ])
        };
        if status != v1::EnrollmentStatus::Dropped {
            slot.taken += 1;
        }
        let business_started = match status {
            v1::EnrollmentStatus::Completed => rng.chance(match slot.kind {
                v1::ProgramKind::DesaBisaEkspor => 0.45,
                v1::ProgramKind::UmkmBisaEkspor => 0.4,
                v1::ProgramKind::TradeMission => 0.3,
                _ => 0.2,
            }),
            v1::EnrollmentStatus::Enrolled => rng.chance(0.05),
            _ => false,
        };
        let export_deals_usd = if business_started && rng.chance(0.35) {
            let dollars = if rng.chance(0.9) {
                rng.between(1, 20) * 500
            } else {
                rng.between(20, 150) * 1000
            };
            u64::try_from(dollars).unwrap_or(0)
        } else {
            0
        };
        v1::Enrollment {
            enrollment_id: format!("DEMO-{}-E{:07}", self.seed, self.index),
            version: 1,
            program_id: slot.id.clone(),
            nik: placement.nik.clone(),
            enrolled_on: Some(proto_date(enrolled_on)),
            status: status as i32,
            business_started,
            export_deals_usd,
        }
    }
}

/// What decides which programs a worker can join.
struct Worker<'a> {
    regency: &'a str,
    province: &'a str,
    country: &'a str,
    /// Back home, or back within two months.
    home: bool,
    /// The day the worker came back, if back.
    back_on: Option<Date>,
}

impl<'a> Worker<'a> {
    fn of(placement: &'a v1::Placement, today: Date) -> Self {
        let regency = placement.origin_regency_code.as_str();
        let back = placement.return_date.as_ref().and_then(|d| date_of(d).ok());
        let returned = placement.return_date_kind() == v1::ReturnDateKind::Actual;
        let registered = placement.status() == v1::PlacementStatus::Registered;
        Self {
            regency,
            province: regency.get(..2).unwrap_or(regency),
            country: placement.destination_country.as_str(),
            home: !registered && back.is_some_and(|d| d <= today + Duration::days(60)),
            back_on: back.filter(|_| returned),
        }
    }

    /// Whether the worker can join `slot` and it has room: the weight of the choice, and the
    /// first day the worker could enrol.
    fn fits(&self, slot: &Slot, today: Date) -> Option<(u32, Date)> {
        if slot.capacity != 0 && slot.taken >= slot.capacity {
            return None;
        }
        let scope = if slot.regency_codes.is_empty() {
            1
        } else if slot.regency_codes.iter().any(|c| c == self.regency) {
            6
        } else if slot.regency_codes.iter().any(|c| c == self.province) {
            3
        } else {
            return None;
        };
        let weight = match slot.kind {
            v1::ProgramKind::TradeMission => {
                if !slot.target_countries.iter().any(|c| c == self.country) {
                    return None;
                }
                4
            }
            // Online courses open to all take workers abroad too.
            v1::ProgramKind::Training if slot.regency_codes.is_empty() && slot.capacity == 0 => {
                scope
            }
            _ if self.home => scope,
            _ => return None,
        };
        // Enrolment opens six weeks before the start, for a returned worker not before the
        // return; it is never in the future nor after the end.
        let mut opens = slot.starts - Duration::days(42);
        if let Some(back) = self.back_on {
            opens = opens.max(back);
        }
        (opens <= slot.ends.min(today)).then_some((weight, opens))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::Generator;
    use crate::products::PRODUCTS;

    fn today() -> Date {
        Date::from_calendar_date(2026, time::Month::November, 20).expect("a date")
    }

    fn date(d: &Option<v1::Date>) -> Date {
        date_of(d.as_ref().expect("a date")).expect("a real date")
    }

    /// `p` as the exchange reads it, checked by the exchange's rules.
    fn check(p: &v1::ExportProgram) -> Result<(), Vec<jembatan_domain::Violation>> {
        use jembatan_proto::convert::ShortCode;
        jembatan_domain::ExportProgram {
            program_id: p.program_id.clone(),
            version: p.version,
            name: p.name.clone(),
            kind: jembatan_domain::ProgramKind::parse(p.kind().code()).expect("a kind"),
            description: p.description.clone(),
            organizer: p.organizer.clone(),
            target_countries: p
                .target_countries
                .iter()
                .map(|c| jembatan_domain::Country::parse(c).expect("a country"))
                .collect(),
            hs_chapters: p
                .hs_chapters
                .iter()
                .map(|c| jembatan_domain::HsChapter::parse(c).expect("a chapter"))
                .collect(),
            areas: p
                .regency_codes
                .iter()
                .map(|c| jembatan_domain::ProgramArea::parse(c).expect("an area"))
                .collect(),
            starts_on: date(&p.starts_on),
            ends_on: date(&p.ends_on),
            capacity: p.capacity,
        }
        .validate()
    }

    #[test]
    fn programs_are_valid_by_the_exchange_rules() {
        let chapters: HashSet<&str> = PRODUCTS.iter().map(|p| p.chapter).collect();
        for seed in 1..20 {
            let programs = programs(seed, today(), 40);
            assert_eq!(programs, super::programs(seed, today(), 40));
            let ids: HashSet<_> = programs.iter().map(|p| &p.program_id).collect();
            assert_eq!(ids.len(), 40);
            for p in &programs {
                assert_eq!(check(p), Ok(()), "{p:?}");
                assert!(p.program_id.starts_with(&format!("DEMO-{seed}-P")));
                assert!((1..=200).contains(&p.name.chars().count()), "{}", p.name);
                assert!(p.description.chars().count() <= 4000);
                assert!((1..=200).contains(&p.organizer.chars().count()));
                assert!(p.kind() != v1::ProgramKind::Unspecified);
                assert!(p.target_countries.len() <= 50);
                for country in &p.target_countries {
                    jembatan_domain::Country::parse(country).expect("a country");
                }
                for chapter in &p.hs_chapters {
                    assert!(chapters.contains(chapter.as_str()), "{chapter}");
                }
                for code in &p.regency_codes {
                    if code.len() == 2 {
                        assert!(jembatan_domain::region::province_name(code).is_some());
                    } else {
                        Regency::parse(code).expect("a regency");
                    }
                }
                for list in [&p.target_countries, &p.hs_chapters, &p.regency_codes] {
                    let distinct: HashSet<_> = list.iter().collect();
                    assert_eq!(distinct.len(), list.len(), "{}", p.program_id);
                }
                let (starts, ends) = (date(&p.starts_on), date(&p.ends_on));
                assert!(starts <= ends);
                assert!((starts - today()).whole_days().abs() <= 250);
                assert!(!p.name.contains("  ") && !p.description.contains("  "));
            }
        }
    }

    #[test]
    fn programs_mix_kinds_and_scopes() {
        let programs = programs(1, today(), 200);
        let kinds: HashSet<i32> = programs.iter().map(|p| p.kind).collect();
        assert_eq!(kinds.len(), 4);
        let scopes = |len: usize| {
            programs
                .iter()
                .filter(|p| p.regency_codes.iter().any(|c| c.len() == len))
                .count()
        };
        let nationwide = programs
            .iter()
            .filter(|p| p.regency_codes.is_empty())
            .count();
        assert!(scopes(2) >= 20 && scopes(5) >= 20 && nationwide >= 20);
        let running = programs
            .iter()
            .filter(|p| date(&p.starts_on) <= today() && today() <= date(&p.ends_on))
            .count();
        assert!(running >= 20, "{running} running");
        assert!(programs.iter().any(|p| p.capacity == 0));
    }

    #[test]
    fn enrolments_respect_consent_capacity_dates_and_one_per_worker_and_program() {
        let placements: Vec<v1::Placement> = Generator::new(4, 0.6, today()).take(30_000).collect();
        let programs = programs(4, today(), 36);
        let run = || {
            let mut enrollments = Enrollments::new(4, 0.1, today(), &programs);
            placements
                .iter()
                .flat_map(|p| enrollments.enrol(p))
                .collect::<Vec<_>>()
        };
        let enrolled = run();
        assert_eq!(enrolled, run());
        let by_nik: HashMap<&str, &v1::Placement> =
            placements.iter().map(|p| (p.nik.as_str(), p)).collect();
        let consenting = placements
            .iter()
            .filter(|p| {
                p.consent.as_ref().is_some_and(|c| {
                    c.withdrawn_at.is_none()
                        && c.purposes.contains(&(v1::Purpose::CapacityBuilding as i32))
                })
            })
            .count();
        let workers: HashSet<&str> = enrolled.iter().map(|e| e.nik.as_str()).collect();
        let share = workers.len() as f64 / consenting as f64;
        assert!(
            (0.03..=0.11).contains(&share),
            "{share} of consenting workers"
        );
        let mut pairs = HashSet::new();
        let mut taken: HashMap<&str, u32> = HashMap::new();
        let mut statuses = HashSet::new();
        for (i, e) in enrolled.iter().enumerate() {
            use jembatan_proto::convert::ShortCode;
            let valid = jembatan_domain::Enrollment {
                enrollment_id: e.enrollment_id.clone(),
                version: e.version,
                program_id: e.program_id.clone(),
                nik: jembatan_domain::Nik::parse(&e.nik).expect("a nik"),
                enrolled_on: date(&e.enrolled_on),
                status: jembatan_domain::EnrollmentStatus::parse(e.status().code())
                    .expect("a status"),
                business_started: e.business_started,
                export_deals_usd: e.export_deals_usd,
            }
            .validate(today());
            assert_eq!(valid, Ok(()), "{}", e.enrollment_id);
            assert_eq!(e.enrollment_id, format!("DEMO-4-E{:07}", i + 1));
            let placement = by_nik[e.nik.as_str()];
            let consent = placement.consent.as_ref().expect("consent");
            assert!(
                consent
                    .purposes
                    .contains(&(v1::Purpose::CapacityBuilding as i32))
            );
            assert!(consent.withdrawn_at.is_none());
            assert!(pairs.insert((e.nik.as_str(), e.program_id.as_str())));
            let program = programs
                .iter()
                .find(|p| p.program_id == e.program_id)
                .expect("a program");
            let on = date(&e.enrolled_on);
            assert!(on <= today() && on <= date(&program.ends_on));
            assert!(e.export_deals_usd == 0 || e.business_started);
            statuses.insert(e.status);
            if e.status() != v1::EnrollmentStatus::Dropped {
                *taken.entry(e.program_id.as_str()).or_default() += 1;
            }
            if !program.regency_codes.is_empty() {
                let regency = &placement.origin_regency_code;
                assert!(
                    program
                        .regency_codes
                        .iter()
                        .any(|c| c == regency || *c == regency[..2]),
                    "{} from {regency}",
                    program.program_id
                );
            }
        }
        assert_eq!(statuses.len(), 3);
        assert!(enrolled.iter().any(|e| e.business_started));
        assert!(enrolled.iter().any(|e| e.export_deals_usd > 0));
        for program in &programs {
            let n = taken.get(program.program_id.as_str()).copied().unwrap_or(0);
            assert!(program.capacity == 0 || n <= program.capacity);
        }
        assert!(
            taken.len() >= 20,
            "{} programs with enrolments",
            taken.len()
        );
    }
}
