//! Synthetic market-opportunity reports as workers abroad file them through KP2MI: from the
//! countries where workers are placed (the placement weights), on products Indonesia exports
//! (real HS 2022 headings and subheadings), demand, buyer leads and prices the most common,
//! observed over the last eighteen months, in English sentences made from templates that hold
//! no personal data (no NIK-like digit runs, phone numbers or e-mail addresses).

use jembatan_proto::convert::date::to_proto as proto_date;
use jembatan_proto::convert::thousands;
use jembatan_proto::v1;
use time::{Date, Duration};

use crate::places::{self, PLACES, Place};
use crate::products::{PRODUCTS, Product};
use crate::{SplitMix64, pick_destination};

/// Days back an observation may lie: eighteen months.
const OBSERVED_WITHIN_DAYS: i64 = 548;

/// Kinds of report, weighted: demand, buyer leads and prices are what workers see most.
const KINDS: &[(v1::OpportunityKind, u32)] = &[
    (v1::OpportunityKind::Demand, 32),
    (v1::OpportunityKind::BuyerLead, 24),
    (v1::OpportunityKind::Price, 24),
    (v1::OpportunityKind::Competition, 11),
    (v1::OpportunityKind::Regulation, 9),
];

/// Who asks for a product, plural.
const CUSTOMERS: &[&str] = &[
    "the Indonesian community",
    "local households",
    "restaurants and hotels",
    "migrant workers from Southeast Asia",
    "young shoppers",
    "small retailers",
];

/// Synthetic market reports, one after another; ids `DEMO-<seed>-R<n>`.
#[derive(Debug)]
pub struct Reports {
    rng: SplitMix64,
    seed: u64,
    today: Date,
    index: u64,
}

impl Reports {
    /// Reports for `seed`, observed up to `today`. The same seed and day give the same reports.
    pub fn new(seed: u64, today: Date) -> Self {
        Self {
            rng: SplitMix64::new(seed ^ 0x6d61_726b_6574_0001),
            seed,
            today,
            index: 0,
        }
    }

    /// The next report.
    pub fn report(&mut self) -> v1::MarketReport {
        self.index += 1;
        let rng = &mut self.rng;
        let destination = pick_destination(rng);
        let place = places::of(destination.code).unwrap_or(&PLACES[0]);
        let product = pick_product(rng);
        let kind = *rng.weighted(KINDS);
        let city = if rng.chance(0.9) {
            *rng.pick(place.cities)
        } else {
            ""
        };
        let words = Words::new(rng, place, city, product);
        let (title, summary) = match kind {
            v1::OpportunityKind::BuyerLead => buyer_lead(rng, &words),
            v1::OpportunityKind::Price => price(rng, &words),
            v1::OpportunityKind::Competition => competition(rng, &words),
            v1::OpportunityKind::Regulation => regulation(rng, &words),
            _ => demand(rng, &words),
        };
        // The heading, a subheading, or both.
        let mut hs_codes: Vec<String> = Vec::new();
        for _ in 0..rng.between(1, 2) {
            let code = (*rng.pick(words.codes)).to_owned();
            if !hs_codes.contains(&code) {
                hs_codes.push(code);
            }
        }
        // More reports lately than a year ago: the nearer of two days.
        let back = rng
            .between(0, OBSERVED_WITHIN_DAYS - 1)
            .min(rng.between(0, OBSERVED_WITHIN_DAYS - 1));
        let share_with_value = match kind {
            v1::OpportunityKind::BuyerLead => 0.7,
            v1::OpportunityKind::Demand => 0.5,
            v1::OpportunityKind::Competition => 0.15,
            _ => 0.0,
        };
        let estimated_value_usd = rng.chance(share_with_value).then(|| {
            let (low, high) = product.deal;
            let (low, high) = (to_i64(low), to_i64(high));
            let thousands = rng.between(low, high).min(rng.between(low, high));
            u64::try_from(thousands).unwrap_or(0) * 1000
        });
        // A worker reports from one country; bigger communities, more reporters.
        let reporters = (destination.placements / 40).max(1);
        let reporter = 1 + rng.below(u64::from(reporters));
        v1::MarketReport {
            report_id: format!("DEMO-{}-R{:07}", self.seed, self.index),
            version: 1,
            country: place.code.to_owned(),
            city: city.to_owned(),
            kind: kind as i32,
            hs_codes,
            title,
            summary,
            estimated_value_usd,
            observed_on: Some(proto_date(self.today - Duration::days(back))),
            reporter_ref: format!("PMI-{}-{reporter:05}", place.code),
        }
    }
}

impl Iterator for Reports {
    type Item = v1::MarketReport;

    fn next(&mut self) -> Option<v1::MarketReport> {
        Some(self.report())
    }
}

/// A product line, by weight.
pub(crate) fn pick_product(rng: &mut SplitMix64) -> &'static Product {
    let total: u64 = PRODUCTS.iter().map(|p| u64::from(p.weight)).sum();
    let mut point = rng.below(total.max(1));
    for product in PRODUCTS {
        if point < u64::from(product.weight) {
            return product;
        }
        point -= u64::from(product.weight);
    }
    &PRODUCTS[0]
}

/// The words a report is made of.
struct Words {
    place: &'static Place,
    product: &'static Product,
    /// What the product is called in this report.
    name: &'static str,
    /// Its HS codes.
    codes: &'static [&'static str],
    /// "Kowloon, Hong Kong", or the country alone.
    at: String,
    buyer: &'static str,
    channel: &'static str,
    competitor: &'static str,
    customers: &'static str,
}

impl Words {
    fn new(
        rng: &mut SplitMix64,
        place: &'static Place,
        city: &str,
        product: &'static Product,
    ) -> Self {
        let at = if city.is_empty() || city == place.name {
            place.name.to_owned()
        } else {
            format!("{city}, {}", trim_article(place.name))
        };
        let (name, codes) = *rng.pick(product.items);
        Self {
            place,
            product,
            name,
            codes,
            at,
            buyer: *rng.pick(product.buyers),
            channel: *rng.pick(product.channels),
            competitor: *rng.pick(product.competitors),
            customers: *rng.pick(CUSTOMERS),
        }
    }

    /// The country without its article, for the start of a title.
    fn country(&self) -> &'static str {
        trim_article(self.place.name)
    }

    /// A price of the product in its unit, e.g. "USD 12.40 per kilogram".
    fn price(&self, rng: &mut SplitMix64) -> String {
        let (low, high) = self.product.price;
        let cents = u64::try_from(rng.between(to_i64(low), to_i64(high))).unwrap_or(0);
        let text = if cents >= 10_000 {
            thousands(cents / 100)
        } else {
            format!("{}.{:02}", cents / 100, cents % 100)
        };
        format!("USD {text} {}", self.product.unit)
    }
}

fn demand(rng: &mut SplitMix64, w: &Words) -> (String, String) {
    let (title, opening) = if w.product.retail {
        (
            match rng.below(4) {
                0 => format!("Growing demand for {} in {}", w.name, w.at),
                1 => format!("{} sought after in {}", capital(w.name), w.at),
                2 => format!(
                    "Indonesian {} popular with {} in {}",
                    w.name, w.customers, w.place.name
                ),
                _ => format!("Shops in {} ask for more {}", w.at, w.name),
            },
            match rng.below(3) {
                0 => format!(
                    "Workers here see Indonesian {} sell out quickly in {} around {}.",
                    w.name, w.channel, w.at
                ),
                1 => format!(
                    "Shop owners in {} say demand for {} has grown over the past months, \
                     mostly from {}.",
                    w.at, w.name, w.customers
                ),
                _ => format!(
                    "There is strong interest in Indonesian {} among {} in {}, but supply is \
                     irregular.",
                    w.name, w.customers, w.at
                ),
            },
        )
    } else {
        (
            match rng.below(3) {
                0 => format!("Growing demand for {} in {}", w.name, w.at),
                1 => format!("{} imports rising in {}", capital(w.name), w.place.name),
                _ => format!("{} in {} needs more {}", capital(&a(w.buyer)), w.at, w.name),
            },
            match rng.below(2) {
                0 => format!(
                    "{} in {} told the reporter it needs more {} than its current suppliers \
                     deliver.",
                    capital(&a(w.buyer)),
                    w.at,
                    w.name
                ),
                _ => format!(
                    "Demand for {} in {} has grown as local industry expands.",
                    w.name, w.place.name
                ),
            },
        )
    };
    let mut summary = vec![opening];
    summary.push(match rng.below(3) {
        0 => format!(
            "Most of the supply now comes from {} producers.",
            w.competitor
        ),
        1 if w.product.retail => {
            "Buyers care about steady quality, clear labelling and small first orders.".to_owned()
        }
        1 => "Buyers want long-term contracts and consistent specifications.".to_owned(),
        _ if w.product.retail => format!(
            "{} would take regular deliveries if prices stay competitive.",
            capital(w.channel)
        ),
        _ => "Buyers would sign for regular deliveries if prices stay competitive.".to_owned(),
    });
    if w.product.food && w.place.muslim {
        summary.push("Halal certification is expected by most buyers.".to_owned());
    }
    summary.push(closing(rng, w));
    (title, summary.join(" "))
}

fn buyer_lead(rng: &mut SplitMix64, w: &Words) -> (String, String) {
    let title = match rng.below(3) {
        0 => format!(
            "{} in {} looking for {} suppliers",
            capital(w.buyer),
            w.at,
            w.name
        ),
        1 => format!("Buyer lead: {} for {} in {}", w.name, a(w.buyer), w.at),
        _ => format!(
            "{} in {} wants Indonesian {}",
            capital(w.buyer),
            w.country(),
            w.name
        ),
    };
    let mut summary = vec![match rng.below(2) {
        0 => format!(
            "{} in {} asked Indonesian workers about reliable suppliers of {}.",
            capital(&a(w.buyer)),
            w.at,
            w.name
        ),
        _ => format!(
            "While working in {}, the reporter met {} that wants to buy {} from Indonesia.",
            w.at,
            a(w.buyer),
            w.name
        ),
    }];
    summary.push(
        match rng.below(4) {
            0 => "The buyer wants a trial order of one container, with samples first.",
            1 if w.product.retail => "The buyer wants small monthly shipments and a price list.",
            1 => "The buyer wants a long-term contract with monthly shipments.",
            2 => "The buyer asks for product photos, a price list and the export documents.",
            _ => {
                "The buyer prefers FOB terms from Surabaya or Jakarta and payment by letter of \
                 credit."
            }
        }
        .to_owned(),
    );
    if rng.chance(0.5) {
        summary.push(format!(
            "They buy from {} suppliers today and want a second source.",
            w.competitor
        ));
    }
    summary.push(
        match rng.below(2) {
            0 => "The buyer agreed to be contacted through the Indonesian trade attache.",
            _ => "The reporter can introduce the buyer to an exporter through KP2MI.",
        }
        .to_owned(),
    );
    (title, summary.join(" "))
}

fn price(rng: &mut SplitMix64, w: &Words) -> (String, String) {
    let trend = *rng.pick(&["rising", "falling", "steady", "rising"]);
    let title = match rng.below(4) {
        0 if w.product.retail => format!("Retail prices of {} in {}", w.name, w.at),
        0 => format!("Import prices of {} in {}", w.name, w.at),
        1 => format!("{} prices in {}", capital(w.name), w.country()),
        2 if w.product.retail => format!("Price check: {} in {}, {}", w.name, w.channel, w.at),
        _ => format!("{} prices {trend} in {}", capital(w.name), w.at),
    };
    let mut summary = vec![if w.product.retail {
        format!(
            "The price of Indonesian {} is about {} in {} around {}.",
            w.name,
            w.price(rng),
            w.channel,
            w.at
        )
    } else {
        format!(
            "Importers in {} pay about {} for {}.",
            w.at,
            w.price(rng),
            w.name
        )
    }];
    summary.push(match rng.below(3) {
        0 => format!("{} products cost about {}.", w.competitor, w.price(rng)),
        1 => format!("Prices are {trend} compared with last season."),
        _ => format!(
            "Supplies from {} sources are slightly cheaper but seen as lower quality.",
            w.competitor
        ),
    });
    if rng.chance(0.5) {
        summary.push(
            match rng.below(2) {
                0 if w.product.retail => {
                    "Good packaging and labels in the local language fetch higher prices."
                }
                0 => "Buyers pay more for certified quality and reliable delivery.",
                _ => "Prices go up before the holidays, when demand peaks.",
            }
            .to_owned(),
        );
    }
    (title, summary.join(" "))
}

fn competition(rng: &mut SplitMix64, w: &Words) -> (String, String) {
    let title = match rng.below(3) {
        0 if w.product.retail => format!(
            "{} {} dominate {} in {}",
            w.competitor, w.name, w.channel, w.at
        ),
        0 => format!("{} {} dominate imports in {}", w.competitor, w.name, w.at),
        1 => format!(
            "Competition from {} {} in {}",
            w.competitor, w.name, w.place.name
        ),
        _ => format!("Why {} {} sell better in {}", w.competitor, w.name, w.at),
    };
    let summary = [
        if w.product.retail {
            format!(
                "{} {} are widely available in {} in {}, often cheaper and better packaged.",
                w.competitor, w.name, w.channel, w.at
            )
        } else {
            format!(
                "{} suppliers of {} hold most of the market in {}, with lower freight costs \
                 and long-term contracts.",
                w.competitor, w.name, w.at
            )
        },
        match rng.below(2) {
            0 => "Indonesian brands are known but hard to find outside Indonesian shops.",
            _ => "Local buyers rate Indonesian quality well but find delivery times long.",
        }
        .to_owned(),
        match rng.below(2) {
            0 => "Better packaging and online sales could win back market share.",
            _ => "A presence at the local trade fair would help Indonesian suppliers.",
        }
        .to_owned(),
    ];
    (title, summary.join(" "))
}

fn regulation(rng: &mut SplitMix64, w: &Words) -> (String, String) {
    let title = match rng.below(3) {
        0 => format!("{} import rules for {}", capital(w.country()), w.name),
        1 => format!(
            "Certification needed to sell {} in {}",
            w.name, w.place.name
        ),
        _ => format!("New labelling rules for {} in {}", w.name, w.place.name),
    };
    let (product, place) = (w.product, w.place);
    let rule = if product.food && place.muslim {
        format!(
            "Halal certification recognised by the authorities of {} is required for {}.",
            place.name, w.name
        )
    } else if place.eu && product.deforestation_rule {
        format!(
            "Importers now ask for proof under the EU deforestation regulation that the {} \
             do not come from recently cleared land.",
            w.name
        )
    } else if place.eu && product.food {
        "EU food safety rules limit pesticide residues; importers ask for laboratory reports."
            .to_owned()
    } else if product.food {
        match place.code {
            "JP" => format!(
                "Japan's food sanitation law requires an import notification and inspection of {}.",
                w.name
            ),
            "KR" => {
                "Food importers must be registered with the MFDS, and labels must be in Korean."
                    .to_owned()
            }
            "TW" => "Imported food is inspected at the border, and labels must be in Chinese."
                .to_owned(),
            "US" => {
                "Exporters must register their facility with the US FDA before shipping.".to_owned()
            }
            _ => format!(
                "A health certificate and labels in the local language are needed for {}.",
                w.name
            ),
        }
    } else {
        match product.chapter {
            "85" => "Electrical goods need local safety certification and plugs of the local type."
                .to_owned(),
            "61" | "62" | "64" => {
                "Labels must show the fibre content and the country of origin in the local language."
                    .to_owned()
            }
            "44" | "94" | "46" => {
                "Wood and plant products need a phytosanitary certificate and treated packaging; \
                 SVLK legality documents help."
                    .to_owned()
            }
            _ => format!(
                "Buyers of {} ask for a certificate of origin to claim the preferential tariff.",
                w.name
            ),
        }
    };
    let summary = [
        rule,
        match rng.below(2) {
            0 => "Several Indonesian shipments were held at customs for missing documents.",
            _ => "Local importers can help with the paperwork for a fee.",
        }
        .to_owned(),
        closing(rng, w),
    ];
    (title, summary.join(" "))
}

fn closing(rng: &mut SplitMix64, w: &Words) -> String {
    match rng.below(3) {
        0 => "Worth a follow-up by the trade attache.".to_owned(),
        1 if w.product.village => {
            "A village enterprise could start with small volumes through a consolidator.".to_owned()
        }
        _ => "Samples could be shown at the next trade fair.".to_owned(),
    }
}

/// `noun` with "a" or "an" before it.
fn a(noun: &str) -> String {
    let article = if noun.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} {noun}")
}

/// `text` with its first letter in upper case.
fn capital(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

/// A country's name without a leading "the".
fn trim_article(name: &'static str) -> &'static str {
    name.strip_prefix("the ").unwrap_or(name)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn today() -> Date {
        Date::from_calendar_date(2026, time::Month::November, 20).expect("a date")
    }

    fn sample(seed: u64, n: usize) -> Vec<v1::MarketReport> {
        Reports::new(seed, today()).take(n).collect()
    }

    /// What the exchange refuses in a title or summary: a run of 16 digits, an e-mail
    /// address, or a phone number (`+` or `0` then 9 to 14 digits, spaces and dashes
    /// allowed between). Stricter here: any run of 9 digits or more, spaces and dashes
    /// allowed between, whatever comes before it.
    fn personal_data(text: &str) -> Option<String> {
        if text.contains('@') {
            return Some("an @".to_owned());
        }
        let mut digits = 0;
        for c in text.chars() {
            if c.is_ascii_digit() {
                digits += 1;
                if digits >= 9 {
                    return Some("a phone-like run of digits".to_owned());
                }
            } else if c != ' ' && c != '-' {
                digits = 0;
            }
        }
        None
    }

    /// `r` as the exchange reads it, checked by the exchange's rules.
    fn check(r: &v1::MarketReport) -> Result<(), Vec<jembatan_domain::Violation>> {
        use jembatan_proto::convert::ShortCode;
        let report = jembatan_domain::MarketReport {
            report_id: r.report_id.clone(),
            version: r.version,
            country: jembatan_domain::Country::parse(&r.country).expect("a country"),
            city: r.city.clone(),
            kind: jembatan_domain::OpportunityKind::parse(r.kind().code()).expect("a kind"),
            hs_codes: r
                .hs_codes
                .iter()
                .map(|c| jembatan_domain::HsCode::parse(c).expect("an hs code"))
                .collect(),
            title: r.title.clone(),
            summary: r.summary.clone(),
            estimated_value_usd: r.estimated_value_usd,
            observed_on: jembatan_proto::convert::date::from_proto(
                r.observed_on.as_ref().expect("a date"),
            )
            .expect("a real date"),
            reporter_ref: r.reporter_ref.clone(),
        };
        report.validate(today())
    }

    #[test]
    fn the_same_seed_gives_the_same_reports_and_another_seed_others() {
        assert_eq!(sample(7, 300), sample(7, 300));
        let (a, b) = (sample(1, 200), sample(2, 200));
        let same = a
            .iter()
            .zip(&b)
            .filter(|(x, y)| x.summary == y.summary)
            .count();
        assert!(same < 20, "{same} of 200 alike");
        assert_eq!(a[0].report_id, "DEMO-1-R0000001");
        assert_eq!(a[199].report_id, "DEMO-1-R0000200");
    }

    #[test]
    fn reports_are_valid_by_the_exchange_rules_and_hold_no_personal_data() {
        let id = |s: &str| {
            (1..=64).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b".:_/-".contains(&b))
        };
        for r in sample(3, 20_000) {
            assert_eq!(check(&r), Ok(()), "{r:?}");
            assert!(id(&r.report_id) && id(&r.reporter_ref), "{}", r.report_id);
            assert_eq!(r.version, 1);
            jembatan_domain::Country::parse(&r.country).expect("a country");
            assert!(r.city.chars().count() <= 100);
            assert!(r.kind != v1::OpportunityKind::Unspecified as i32);
            assert!((1..=20).contains(&r.hs_codes.len()));
            let title = r.title.chars().count();
            let summary = r.summary.chars().count();
            assert!((1..=200).contains(&title), "{}", r.title);
            assert!((1..=4000).contains(&summary), "{}", r.summary);
            for text in [&r.title, &r.summary] {
                assert_eq!(personal_data(text), None, "{text}");
                assert!(!text.contains("  ") && !text.contains("{"), "{text}");
            }
            let observed =
                jembatan_proto::convert::date::from_proto(r.observed_on.as_ref().expect("a date"))
                    .expect("a real date");
            assert!(observed <= today());
            assert!((today() - observed).whole_days() < OBSERVED_WITHIN_DAYS);
            if let Some(value) = r.estimated_value_usd {
                assert!(value >= 1000 && value % 1000 == 0, "{value}");
            }
        }
    }

    #[test]
    fn the_check_for_personal_data_finds_it() {
        assert!(personal_data("call +62 812-3456-7890").is_some());
        assert!(personal_data("NIK 3507014107950001").is_some());
        assert!(personal_data("mail siti@example.com").is_some());
        assert!(personal_data("USD 12.40 per kilogram, USD 15,400 per tonne").is_none());
    }

    #[test]
    fn hs_codes_are_real_headings_and_subheadings_of_the_product_chapters() {
        for product in PRODUCTS {
            assert!(!product.items.is_empty());
            assert!(product.price.0 < product.price.1 && product.deal.0 < product.deal.1);
            for (name, codes) in product.items {
                assert!(!codes.is_empty(), "{name}");
                for code in *codes {
                    assert!(matches!(code.len(), 4 | 6), "{code}");
                    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{code}");
                    assert!(code.starts_with(product.chapter), "{code}");
                    jembatan_domain::HsCode::parse(code).expect(code);
                }
            }
        }
        for r in sample(8, 2_000) {
            assert!(r.hs_codes.len() <= 2);
        }
    }

    #[test]
    fn countries_follow_the_placements_and_kinds_their_weights() {
        let reports = sample(5, 20_000);
        let mut countries: HashMap<&str, usize> = HashMap::new();
        let mut kinds: HashMap<i32, usize> = HashMap::new();
        let mut chapters = HashSet::new();
        for r in &reports {
            *countries.entry(r.country.as_str()).or_default() += 1;
            *kinds.entry(r.kind).or_default() += 1;
            chapters.insert(&r.hs_codes[0][..2]);
        }
        let share = |n: usize| n as f64 / reports.len() as f64;
        let hk = share(countries["HK"]);
        assert!((0.30..=0.38).contains(&hk), "HK {hk}");
        assert!(countries.len() >= 30, "{} countries", countries.len());
        assert!(chapters.len() >= 20, "{} chapters", chapters.len());
        let demand = share(kinds[&(v1::OpportunityKind::Demand as i32)]);
        let regulation = share(kinds[&(v1::OpportunityKind::Regulation as i32)]);
        assert!(demand > 0.25 && regulation < 0.15, "{demand} {regulation}");
        // Every destination has a place, and every place cities.
        for destination in crate::DESTINATIONS {
            let place = places::of(destination.code).expect(destination.code);
            assert!(!place.cities.is_empty());
        }
        assert_eq!(PLACES.len(), crate::DESTINATIONS.len());
    }

    #[test]
    fn text_search_finds_what_the_benchmark_asks_for() {
        let reports = sample(9, 2_000);
        for word in ["coffee", "halal", "rattan", "buyer", "shrimp", "price"] {
            let found = reports
                .iter()
                .filter(|r| {
                    format!("{} {}", r.title, r.summary)
                        .to_lowercase()
                        .split(|c: char| !c.is_alphanumeric())
                        .any(|w| w == word)
                })
                .count();
            assert!(found >= 10, "{word}: {found}");
        }
    }
}
