#!/usr/bin/env python3
"""Generates the demo chain under config/demo/: catalog.csv (240 products in 10
categories, valid EAN-13 barcodes), stores.csv (5 stores), stock.csv (one line per store
and product, about 8% under the reorder point) and central_stock.csv (the logistics
center). Deterministic (seeded); its output is committed and built into the binary, so
run it again only to change the demo data."""

import csv
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "config" / "demo"
rng = random.Random(2026)

# category, SKU prefix, (target level range), (price range in cents), 12 bases x 2 formats
CATEGORIES = [
    ("Épicerie", "EPI", (40, 120), (149, 1599), [
        "Sirop d'érable pur", "Farine tout usage", "Sucre granulé", "Riz basmati", "Pâtes spaghetti",
        "Sauce tomate", "Beurre d'arachide crémeux", "Céréales d'avoine", "Café moulu mi-noir",
        "Thé orange pekoe", "Huile de canola", "Soupe aux pois"],
        ["format régulier", "grand format"]),
    ("Boissons", "BOI", (40, 120), (129, 1299), [
        "Jus d'orange sans pulpe", "Eau de source", "Eau pétillante", "Boisson gazeuse cola",
        "Jus de pomme", "Thé glacé citron", "Boisson d'avoine", "Jus de canneberge",
        "Limonade", "Boisson énergisante", "Cidre sans alcool", "Jus de légumes"],
        ["1,89 L", "paquet de 12 x 355 ml"]),
    ("Produits laitiers", "LAI", (30, 100), (199, 1499), [
        "Lait 2 %", "Lait 3,25 %", "Crème 35 %", "Yogourt grec nature", "Beurre salé",
        "Fromage cheddar fort", "Fromage en grains", "Fromage Oka", "Crème sure",
        "Fromage cottage", "Kéfir nature", "Boisson de soya"],
        ["format régulier", "format familial"]),
    ("Boulangerie", "BOU", (20, 80), (199, 899), [
        "Pain de mie blanc", "Pain de blé entier", "Baguette de campagne", "Croissants au beurre",
        "Muffins anglais", "Bagels sésame", "Pain aux raisins", "Tortillas de blé",
        "Pains à hamburger", "Pains à hot-dog", "Brioche tressée", "Galettes de sarrasin"],
        ["675 g", "paquet de 6"]),
    ("Fruits et légumes", "FRL", (30, 100), (99, 799), [
        "Pommes McIntosh", "Bananes", "Carottes", "Pommes de terre jaunes", "Oignons jaunes",
        "Laitue romaine", "Tomates en grappe", "Bleuets sauvages", "Fraises du Québec",
        "Brocoli", "Poivrons rouges", "Champignons blancs"],
        ["1 kg", "sac de 3 kg"]),
    ("Hygiène et beauté", "HYG", (15, 60), (249, 2499), [
        "Dentifrice menthe", "Shampooing doux", "Revitalisant", "Savon en pain",
        "Déodorant sans parfum", "Crème hydratante", "Rasoirs jetables", "Brosse à dents souple",
        "Écran solaire FPS 30", "Rince-bouche", "Gel douche", "Baume à lèvres"],
        ["format voyage", "format économique"]),
    ("Entretien ménager", "ENT", (15, 60), (299, 2999), [
        "Détergent à lessive", "Savon à vaisselle", "Nettoyant tout usage", "Papier essuie-tout",
        "Papier hygiénique", "Sacs à ordures", "Assouplissant", "Pastilles lave-vaisselle",
        "Nettoyant à vitres", "Éponges à récurer", "Eau de Javel", "Lingettes désinfectantes"],
        ["format régulier", "format géant"]),
    ("Quincaillerie", "QUI", (10, 40), (399, 7999), [
        "Ampoule DEL 60 W", "Ruban adhésif en toile", "Tournevis à pointes multiples",
        "Marteau de menuisier", "Ruban à mesurer 7,5 m", "Piles AA alcalines", "Vis à bois no 8",
        "Rallonge électrique", "Lampe de poche DEL", "Gants de travail", "Pinceau 50 mm",
        "Scellant silicone blanc"],
        ["à l'unité", "paquet de 4"]),
    ("Papeterie", "PAP", (15, 60), (149, 2499), [
        "Cahier ligné", "Stylos à bille bleus", "Crayons HB", "Surligneurs", "Papier d'imprimante",
        "Reliure à anneaux", "Notes autocollantes", "Ciseaux", "Colle en bâton", "Gommes à effacer",
        "Enveloppes blanches", "Agenda scolaire"],
        ["à l'unité", "paquet de 10"]),
    ("Électronique", "ELE", (5, 25), (999, 24999), [
        "Câble USB-C 1 m", "Chargeur mural USB", "Écouteurs sans fil", "Clé USB 64 Go",
        "Souris sans fil", "Clavier sans fil", "Batterie externe 10 000 mAh", "Haut-parleur Bluetooth",
        "Câble HDMI 2 m", "Carte microSD 128 Go", "Support de téléphone auto", "Webcam HD"],
        ["modèle de base", "modèle haut de gamme"]),
]

STORES = [
    (1, "MTL-CENTRE", "Magasin Montréal Centre-ville", "Montréal"),
    (2, "QC-STROCH", "Magasin Québec Saint-Roch", "Québec"),
    (3, "LAV-CHOMEDEY", "Magasin Laval Chomedey", "Laval"),
    (4, "GAT-HULL", "Magasin Gatineau Hull", "Gatineau"),
    (5, "SHE-FLEURIMONT", "Magasin Sherbrooke Fleurimont", "Sherbrooke"),
]


def ean13(prefix: str) -> str:
    body = prefix + "".join(str(rng.randrange(10)) for _ in range(12 - len(prefix)))
    weighted = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return body + str((10 - weighted % 10) % 10)


def price(low: int, high: int) -> int:
    cents = rng.randrange(low, high)
    return cents - cents % 10 + 9


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    products, barcodes = [], set()
    for name, prefix, target_range, price_range, bases, formats in CATEGORIES:
        n = 0
        for base in bases:
            base_price = price(*price_range)
            for i, fmt in enumerate(formats):
                n += 1
                code = ean13(rng.choice(["0627", "0628"]))
                while code in barcodes:
                    code = ean13(rng.choice(["0627", "0628"]))
                barcodes.add(code)
                # The larger format costs about 1.8 times the smaller one.
                cents = base_price if i == 0 else base_price * 18 // 10 // 10 * 10 + 9
                products.append((f"{prefix}-{n:04d}", code, f"{base} {fmt}", name, cents, target_range))

    with open(OUT / "catalog.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["sku", "ean13", "name", "category", "price_cents"])
        for sku, code, name, category, cents, _ in products:
            w.writerow([sku, code, name, category, cents])

    with open(OUT / "stores.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["store_id", "code", "name", "city"])
        w.writerows(STORES)

    with open(OUT / "stock.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["store_id", "sku", "on_hand", "reorder_point", "target_level"])
        for store_id, *_ in STORES:
            for sku, _, _, _, _, (low, high) in products:
                target = rng.randrange(low, high + 1)
                reorder = max(1, round(target * rng.uniform(0.25, 0.35)))
                if rng.random() < 0.08:
                    on_hand = rng.randrange(0, reorder)
                else:
                    on_hand = rng.randrange(reorder, target + 1)
                w.writerow([store_id, sku, on_hand, reorder, target])

    with open(OUT / "central_stock.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["sku", "on_hand"])
        for sku, *_ in products:
            roll = rng.random()
            on_hand = 0 if roll < 0.05 else rng.randrange(1, 20) if roll < 0.15 else rng.randrange(20, 2001)
            w.writerow([sku, on_hand])


if __name__ == "__main__":
    main()
