//! A worker who withdraws consent while a ListCandidates page is being read is not on it: the
//! page is read outside the store's writer, and checked again in the writer's turn before it is
//! logged. Through the real server, on SQLite and PostgreSQL: Kemendag pages through the
//! candidates for business matching, over and over, while KP2MI withdraws the consent of a
//! quarter of the workers as fast as it is answered. The audit log then shows, whatever the
//! timing, that no candidate's leaf comes after the leaf of its worker's withdrawal.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use jembatan_audit::leaf::LeafEntry;
use jembatan_audit::merkle;
use jembatan_client::Client;
use jembatan_domain::{LegalBasis, Purpose};
use jembatan_proto::v1::{self, AvailabilityFilter, ListCandidatesRequest};
use jembatan_store::{LeafFilter, Store};
use jembatan_tests::placements::{as_kp2mi, placement, placements, push, stated, workforce};
use jembatan_tests::{RunningExchange, TestPki, config, open_store};
use tokio::sync::oneshot;
use tonic::Code;

jembatan_tests::on_both_databases!(
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    no_candidate_is_logged_after_its_worker_withdrew,
);

/// Workers pushed, all consenting to business matching.
const WORKERS: u32 = 2_000;
/// Candidates a page asks for.
const PAGE_SIZE: u32 = 100;
/// Kemendag's listings running at once, each on a connection of its own.
const LISTERS: usize = 4;
/// KP2MI's withdrawals in flight at once.
const WITHDRAWERS: usize = 8;

/// The method of the leaves of listed candidates, and of withdrawals, as leaves name it.
const LISTING: &str = "WorkforceService/ListCandidates";
const WITHDRAWAL: &str = "PlacementService/WithdrawConsent";

/// What one listing task was answered.
#[derive(Default)]
struct Listed {
    /// The receipts of every candidate of every page answered.
    receipts: Vec<v1::Receipt>,
    /// Listings read to their end.
    passes: u32,
    /// Pages answered.
    pages: u32,
    /// Pages answered ABORTED (the records read changed on every read), asked again.
    aborted: u32,
    /// The receipts of the last listing, begun after every withdrawal was answered.
    last_pass: Vec<v1::Receipt>,
}

/// Every how many workers one withdraws consent.
const WITHDRAWING_EVERY: usize = 4;

/// The workers whose consent is withdrawn, one in `WITHDRAWING_EVERY`, in an order that visits
/// every page in turn (a page holds `PAGE_SIZE` consecutive workers): whichever page a listing
/// is reading, a withdrawal among its workers is never far off.
fn withdrawal_order() -> Vec<u32> {
    let pages = WORKERS / PAGE_SIZE;
    (0..PAGE_SIZE)
        .step_by(WITHDRAWING_EVERY)
        .flat_map(|offset| (0..pages).map(move |page| page * PAGE_SIZE + offset))
        .collect()
}

/// Pages through the candidates for business matching, from the first page to the last, again
/// and again; says `started` once its first page is answered; ends after a listing begun once
/// `stop` was set.
async fn list_until(client: Client, stop: Arc<AtomicBool>, started: oneshot::Sender<()>) -> Listed {
    let mut listed = Listed::default();
    let mut started = Some(started);
    loop {
        let last = stop.load(Ordering::SeqCst);
        let mut pass = Vec::new();
        let mut page_token = String::new();
        loop {
            let answer = workforce(&client)
                .list_candidates(stated(
                    Purpose::BusinessMatching,
                    LegalBasis::Consent,
                    ListCandidatesRequest {
                        filter: Some(AvailabilityFilter::default()),
                        page_size: PAGE_SIZE,
                        page_token: page_token.clone(),
                    },
                ))
                .await;
            let page = match answer {
                Ok(page) => page.into_inner(),
                Err(status) if status.code() == Code::Aborted => {
                    listed.aborted += 1;
                    continue;
                }
                Err(status) => panic!("list candidates: {status:?}"),
            };
            listed.pages += 1;
            assert_eq!(page.candidates.len(), page.receipts.len());
            pass.extend(page.receipts);
            if let Some(started) = started.take() {
                let _ = started.send(());
            }
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        listed.passes += 1;
        listed.receipts.extend(pass.iter().cloned());
        if last {
            listed.last_pass = pass;
            return listed;
        }
    }
}

/// Withdraws consent for business matching of the workers of `order` not yet taken from
/// `next`, one at a time; the receipt of each withdrawal.
async fn withdraw(
    client: Client,
    order: Arc<Vec<u32>>,
    next: Arc<AtomicUsize>,
) -> Vec<v1::Receipt> {
    let mut receipts = Vec::new();
    while let Some(&n) = order.get(next.fetch_add(1, Ordering::SeqCst)) {
        let withdrawn = placements(&client)
            .withdraw_consent(as_kp2mi(v1::WithdrawConsentRequest {
                nik: placement(n).nik,
                purposes: vec![v1::Purpose::BusinessMatching.into()],
                withdrawn_at: None,
            }))
            .await
            .unwrap_or_else(|status| panic!("withdraw consent of worker {n}: {status:?}"))
            .into_inner();
        assert_eq!(withdrawn.placements_changed, 1, "worker {n}");
        receipts.push(withdrawn.receipt.expect("a withdrawal's receipt"));
    }
    receipts
}

/// Every leaf of `method` in the log of `store`, by index.
async fn leaves_of(store: &Store, method: &str) -> HashMap<u64, (Vec<u8>, LeafEntry)> {
    let filter = LeafFilter {
        method: Some(method.into()),
        ..LeafFilter::default()
    };
    let below = store.log_size().await.expect("log size");
    let mut found = HashMap::new();
    let mut after = None;
    loop {
        let chunk = store
            .list_leaves(&filter, after, below, 10_000)
            .await
            .expect("list leaves");
        let Some(&(last, _)) = chunk.last() else {
            return found;
        };
        for (index, data) in chunk {
            let leaf = LeafEntry::parse(&data).expect("a stored leaf parses");
            found.insert(index, (data, leaf));
        }
        after = Some(last);
    }
}

/// The leaf of `receipt` among `leaves`, checked against the receipt's hash.
fn leaf<'a>(
    leaves: &'a HashMap<u64, (Vec<u8>, LeafEntry)>,
    receipt: &v1::Receipt,
) -> &'a LeafEntry {
    let (data, leaf) = leaves
        .get(&receipt.leaf_index)
        .unwrap_or_else(|| panic!("no leaf {} of the method", receipt.leaf_index));
    assert_eq!(merkle::leaf_hash(data).to_vec(), receipt.leaf_hash);
    leaf
}

async fn no_candidate_is_logged_after_its_worker_withdrew(pki: &TestPki, url: &str) {
    let mut config = config(pki, url, "");
    // The race is under test, not the rates: every caller calls as fast as it is answered.
    config.limits.write_per_sec = 1e6;
    config.limits.write_burst = 100_000;
    config.limits.read_per_sec = 1e6;
    config.limits.read_burst = 100_000;
    let exchange = RunningExchange::start(&config).await;
    let kp2mi = exchange
        .connect(pki.agency("kp2mi", "siskop2mi"))
        .await
        .expect("connect kp2mi");
    for from in (0..WORKERS).step_by(1_000) {
        let pushed = push(&kp2mi, (from..from + 1_000).map(placement).collect()).await;
        assert_eq!(pushed.summary.expect("summary").stored, 1_000);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let mut listers = Vec::new();
    let mut started = Vec::new();
    for _ in 0..LISTERS {
        let kemendag = exchange
            .connect(pki.agency("kemendag", "export-portal"))
            .await
            .expect("connect kemendag");
        let (says, heard) = oneshot::channel();
        listers.push(tokio::spawn(list_until(kemendag, Arc::clone(&stop), says)));
        started.push(heard);
    }
    // Every listing has a page logged before the first withdrawal, and (below) one begun after
    // the last: the withdrawals fall among the listings' pages, not before or after them.
    for heard in started {
        heard.await.expect("a listing failed before its first page");
    }
    let order = Arc::new(withdrawal_order());
    let next = Arc::new(AtomicUsize::new(0));
    let withdrawers: Vec<_> = (0..WITHDRAWERS)
        .map(|_| {
            tokio::spawn(withdraw(
                kp2mi.clone(),
                Arc::clone(&order),
                Arc::clone(&next),
            ))
        })
        .collect();
    let mut withdrawals = Vec::new();
    for withdrawer in withdrawers {
        withdrawals.extend(withdrawer.await.expect("withdrawer"));
    }
    stop.store(true, Ordering::SeqCst);
    let mut listed = Vec::new();
    for lister in listers {
        listed.push(lister.await.expect("lister"));
    }
    exchange.stop().await;

    let store = open_store(pki, url).await;
    let listing_leaves = leaves_of(&store, LISTING).await;
    let withdrawal_leaves = leaves_of(&store, WITHDRAWAL).await;
    store.close().await;

    // Each withdrawal's leaf names the record of its worker's (one) placement.
    assert_eq!(withdrawals.len(), order.len());
    let mut withdrawn: HashMap<&str, u64> = HashMap::new();
    for receipt in &withdrawals {
        let leaf = leaf(&withdrawal_leaves, receipt);
        assert_eq!(leaf.record_type, "consent");
        let earlier = withdrawn.insert(leaf.record_key.as_str(), receipt.leaf_index);
        assert!(earlier.is_none(), "one withdrawal per worker");
    }

    // Every candidate returned has its leaf, and every candidate leaf was returned.
    let returned: Vec<&v1::Receipt> = listed.iter().flat_map(|l| &l.receipts).collect();
    let returned_indexes: HashSet<u64> = returned.iter().map(|r| r.leaf_index).collect();
    assert_eq!(
        returned_indexes.len(),
        returned.len(),
        "one leaf per candidate"
    );
    assert_eq!(
        returned_indexes,
        listing_leaves.keys().copied().collect::<HashSet<_>>(),
        "the candidates returned are the candidates logged"
    );

    // The invariant: no candidate's leaf after its worker's withdrawal.
    let mut after_withdrawal = Vec::new();
    let mut listed_then_withdrawn = 0;
    let first_withdrawal = withdrawn.values().copied().min().expect("withdrawals");
    let last_withdrawal = withdrawn.values().copied().max().expect("withdrawals");
    for receipt in &returned {
        let leaf = leaf(&listing_leaves, receipt);
        assert_eq!(leaf.record_type, "placement");
        match withdrawn.get(leaf.record_key.as_str()) {
            Some(&at) if receipt.leaf_index > at => {
                after_withdrawal.push((leaf.record_key.clone(), receipt.leaf_index, at));
            }
            Some(_) if receipt.leaf_index > first_withdrawal => listed_then_withdrawn += 1,
            _ => {}
        }
    }
    assert!(
        after_withdrawal.is_empty(),
        "{} candidates were logged after their worker withdrew consent, e.g. \
         (record, candidate leaf, withdrawal leaf) {:?}",
        after_withdrawal.len(),
        &after_withdrawal[..after_withdrawal.len().min(5)]
    );

    // Not vacuous: the withdrawals ran among the listings' pages, and the listings returned
    // workers whose withdrawal was yet to come while withdrawals were landing.
    let first_listed = returned_indexes.iter().min().copied().expect("candidates");
    let last_listed = returned_indexes.iter().max().copied().expect("candidates");
    assert!(
        first_listed < first_withdrawal && last_withdrawal < last_listed,
        "withdrawals {first_withdrawal}..={last_withdrawal} among pages \
         {first_listed}..={last_listed}"
    );
    assert!(
        listed_then_withdrawn > 0,
        "no worker was listed while withdrawals were landing and withdrew afterwards"
    );

    // Every listing completed, the last of each after all withdrawals: it shows exactly the
    // workers who did not withdraw.
    let not_withdrawn = (WORKERS as usize) - withdrawn.len();
    for lister in &listed {
        assert!(lister.passes >= 2, "a listing during and one after");
        let keys: HashSet<&str> = lister
            .last_pass
            .iter()
            .map(|receipt| leaf(&listing_leaves, receipt).record_key.as_str())
            .collect();
        assert_eq!(keys.len(), lister.last_pass.len(), "each worker once");
        assert_eq!(keys.len(), not_withdrawn);
        assert!(keys.iter().all(|key| !withdrawn.contains_key(key)));
    }
    let passes: u32 = listed.iter().map(|l| l.passes).sum();
    let pages: u32 = listed.iter().map(|l| l.pages).sum();
    let aborted: u32 = listed.iter().map(|l| l.aborted).sum();
    eprintln!(
        "{} withdrawals (leaves {first_withdrawal}..={last_withdrawal}) among {passes} \
         listings, {pages} pages ({aborted} answered ABORTED and asked again), {} candidates; \
         {listed_then_withdrawn} listed after the first withdrawal and withdrawn after",
        withdrawals.len(),
        returned.len()
    );
}
