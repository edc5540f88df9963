//! Backtest of the reorder points proposed from sales (ADR 0030) against fixed min/max
//! levels, the way Odoo's and ERPNext's reordering rules are filled in by hand.
//!
//! `cargo run --release --example backtest`
//!
//! For each of six products with different demand (steady, volatile, slow, lumpy…), a
//! seeded generator draws 90 days of history and 90 days to come. The history is fitted by
//! `ReplenishmentPolicy::propose` (95 % cycle service level, 3-day lead time, 7-day review,
//! as `config/default.toml`). The 90 days to come are then played twice, with the same
//! demand: once with the proposed levels, once with fixed min/max levels set as a buyer sets
//! them, a number of days of average sales for every product (min = ⌈mean × c⌉, max = min +
//! ⌈mean × 7⌉), with the smallest cover c whose average on-hand is at least the proposed
//! levels' (so the fixed levels never hold less stock). Twenty seeds, deterministic.
//!
//! Each day: the order due arrives before the store opens; demand is served from the
//! shelf, what the shelf lacks is lost (a stockout day); at closing, if on-hand plus what is
//! on order is under the reorder point (min), the store orders up to the target (max), and
//! the order arrives after `L` full days of selling. Average on-hand is taken at closing.

use magasin::domain::{LeadTime, ReplenishmentPolicy};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const DAYS: usize = 90;
const SEEDS: u64 = 20;
const LEAD_DAYS: usize = 3;
const REVIEW_DAYS: u32 = 7;

/// How a product's daily demand is drawn.
#[derive(Clone, Copy)]
enum Demand {
    /// Normal, rounded, never below 0.
    Normal { mean: f64, sd: f64 },
    /// Poisson.
    Poisson { mean: f64 },
    /// Poisson, and some days a bulk purchase on top.
    Lumpy { mean: f64, bulk: u64, chance: f64 },
}

struct Product {
    name: &'static str,
    demand: Demand,
}

const PRODUCTS: [Product; 6] = [
    Product {
        name: "steady (normal 20 ± 4)",
        demand: Demand::Normal {
            mean: 20.0,
            sd: 4.0,
        },
    },
    Product {
        name: "busy (normal 60 ± 15)",
        demand: Demand::Normal {
            mean: 60.0,
            sd: 15.0,
        },
    },
    Product {
        name: "volatile (normal 10 ± 10)",
        demand: Demand::Normal {
            mean: 10.0,
            sd: 10.0,
        },
    },
    Product {
        name: "medium (Poisson 8)",
        demand: Demand::Poisson { mean: 8.0 },
    },
    Product {
        name: "slow (Poisson 1.5)",
        demand: Demand::Poisson { mean: 1.5 },
    },
    Product {
        name: "lumpy (Poisson 2, 10 % +15)",
        demand: Demand::Lumpy {
            mean: 2.0,
            bulk: 15,
            chance: 0.1,
        },
    },
];

fn poisson(rng: &mut StdRng, mean: f64) -> u64 {
    // Knuth's method: fine for small means.
    let limit = (-mean).exp();
    let (mut k, mut p) = (0, 1.0);
    loop {
        p *= rng.random::<f64>();
        if p <= limit {
            return k;
        }
        k += 1;
    }
}

fn normal(rng: &mut StdRng) -> f64 {
    // Box–Muller.
    let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

fn draw(rng: &mut StdRng, demand: Demand, days: usize) -> Vec<u64> {
    (0..days)
        .map(|_| match demand {
            Demand::Normal { mean, sd } => (mean + sd * normal(rng)).round().max(0.0) as u64,
            Demand::Poisson { mean } => poisson(rng, mean),
            Demand::Lumpy { mean, bulk, chance } => {
                let extra = if rng.random::<f64>() < chance {
                    bulk
                } else {
                    0
                };
                poisson(rng, mean) + extra
            }
        })
        .collect()
}

#[derive(Default, Clone, Copy)]
struct Outcome {
    stockout_days: usize,
    on_hand_sum: u64,
    days: usize,
    lost_units: u64,
}

impl Outcome {
    fn add(&mut self, other: Outcome) {
        self.stockout_days += other.stockout_days;
        self.on_hand_sum += other.on_hand_sum;
        self.days += other.days;
        self.lost_units += other.lost_units;
    }

    fn average_on_hand(&self) -> f64 {
        self.on_hand_sum as f64 / self.days.max(1) as f64
    }
}

/// Plays `demand` with reorder point `min` and target `max`, starting full.
fn play(demand: &[u64], min: u64, max: u64) -> Outcome {
    let mut on_hand = max;
    let mut arriving = vec![0u64; demand.len() + LEAD_DAYS + 2];
    let mut on_order = 0;
    let mut outcome = Outcome::default();
    for (day, &wanted) in demand.iter().enumerate() {
        on_hand += arriving[day];
        on_order -= arriving[day];
        if wanted > on_hand {
            outcome.stockout_days += 1;
            outcome.lost_units += wanted - on_hand;
        }
        on_hand = on_hand.saturating_sub(wanted);
        if on_hand + on_order < min {
            let quantity = max - (on_hand + on_order);
            arriving[day + LEAD_DAYS + 1] += quantity;
            on_order += quantity;
        }
        outcome.on_hand_sum += on_hand;
        outcome.days += 1;
    }
    outcome
}

/// One seed's demand: the history that is fitted and the days that are played.
struct Trial {
    history: Vec<u64>,
    future: Vec<u64>,
}

fn units(x: f64) -> u64 {
    (x - 1e-9).ceil().max(0.0) as u64
}

/// Fixed levels of `cover` days of mean demand, and a review period above.
fn fixed_levels(history: &[u64], cover: f64) -> (u64, u64) {
    let mean = history.iter().sum::<u64>() as f64 / history.len() as f64;
    let min = units(mean * cover);
    (min, min + units(mean * f64::from(REVIEW_DAYS)))
}

fn main() {
    let policy = ReplenishmentPolicy {
        service_level: 0.95,
        window_days: DAYS as u32,
        review_days: REVIEW_DAYS,
        lead_time_days: LEAD_DAYS as f64,
    };
    let lead = LeadTime::of(&[], policy.lead_time_days);
    let trials: Vec<Vec<Trial>> = PRODUCTS
        .iter()
        .enumerate()
        .map(|(i, product)| {
            (1..=SEEDS)
                .map(|seed| {
                    let mut rng = StdRng::seed_from_u64(seed * 1_000 + i as u64);
                    Trial {
                        history: draw(&mut rng, product.demand, DAYS),
                        future: draw(&mut rng, product.demand, DAYS),
                    }
                })
                .collect()
        })
        .collect();

    let proposed: Vec<Outcome> = trials
        .iter()
        .map(|product| {
            let mut total = Outcome::default();
            for trial in product {
                let p = policy.propose(&trial.history, lead);
                let (min, max) = (u64::from(p.reorder_point), u64::from(p.target_level));
                total.add(play(&trial.future, min, max));
            }
            total
        })
        .collect();
    let fixed_with = |cover: f64| -> Vec<Outcome> {
        trials
            .iter()
            .map(|product| {
                let mut total = Outcome::default();
                for trial in product {
                    let (min, max) = fixed_levels(&trial.history, cover);
                    total.add(play(&trial.future, min, max));
                }
                total
            })
            .collect()
    };
    let stock = |outcomes: &[Outcome]| outcomes.iter().map(Outcome::average_on_hand).sum::<f64>();
    let target_stock = stock(&proposed);
    let cover = (0..=400)
        .map(|step| f64::from(step) * 0.05)
        .find(|&cover| stock(&fixed_with(cover)) >= target_stock)
        .unwrap_or(20.0);
    let fixed = fixed_with(cover);

    println!(
        "{} products x {SEEDS} seeds x {DAYS} days played after {DAYS} days fitted; \
         lead time {LEAD_DAYS} d, review {REVIEW_DAYS} d, service level 95 %",
        PRODUCTS.len()
    );
    println!(
        "fixed min/max: min = {cover:.2} days of mean sales (the smallest cover holding at \
         least the proposed levels' stock), max = min + {REVIEW_DAYS} days"
    );
    println!();
    println!(
        "{:<30} {:>15} {:>15} {:>15} {:>15}",
        "product", "proposed: out", "on-hand", "fixed: out", "on-hand"
    );
    let mut totals = (Outcome::default(), Outcome::default());
    for ((product, p), f) in PRODUCTS.iter().zip(&proposed).zip(&fixed) {
        println!(
            "{:<30} {:>15} {:>15.1} {:>15} {:>15.1}",
            product.name,
            p.stockout_days,
            p.average_on_hand(),
            f.stockout_days,
            f.average_on_hand()
        );
        totals.0.add(*p);
        totals.1.add(*f);
    }
    let days = SEEDS as usize * DAYS * PRODUCTS.len();
    println!();
    println!(
        "stockout days, all products: proposed {} of {days} ({:.1} %), fixed {} ({:.1} %)",
        totals.0.stockout_days,
        100.0 * totals.0.stockout_days as f64 / days as f64,
        totals.1.stockout_days,
        100.0 * totals.1.stockout_days as f64 / days as f64
    );
    println!(
        "units lost: proposed {}, fixed {}",
        totals.0.lost_units, totals.1.lost_units
    );
    println!(
        "average on-hand, sum over products: proposed {:.1}, fixed {:.1}",
        target_stock,
        stock(&fixed)
    );
}
