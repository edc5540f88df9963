#!/usr/bin/env python3
"""Generates the demo chain under config/demo/:

- catalog.csv        240 products in 10 categories (24 each), French (Québec) names with
                     their size or format, valid EAN-13 barcodes (GS1 prefixes 0627/0628),
                     prices in CAD cents;
- stores.csv         the 5 stores;
- stock.csv          one line per store and product (1200 lines): on hand, reorder point and
                     target level; in every store about 8% of the lines are under the reorder
                     point (some at 0), so the low-stock list is never empty;
- central_stock.csv  the logistics center's stock of every product, about 5% at 0 and 10%
                     under 20 units, so restock allocations are sometimes partial.

Standard library only and deterministic (random.Random(2026)): running it again gives the
same files. Its output is committed and built into the binary (src/demo.rs), so run it
again only to change the demo data:

    python3 scripts/gen-demo-data.py
"""

import csv
import random
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "config" / "demo"
rng = random.Random(2026)

# Each category: name, SKU prefix, target level range in a store, and its 24 products as
# (name, usual price in cents). The price written is this one varied by a few percent.
CATEGORIES = [
    ("Épicerie", "EPI", (40, 120), [
        ("Sirop d'érable pur 540 ml", 1199),
        ("Farine tout usage 2 kg", 549),
        ("Sucre granulé blanc 2 kg", 399),
        ("Riz basmati 900 g", 449),
        ("Spaghetti 900 g", 249),
        ("Macaroni coupé 900 g", 249),
        ("Sauce tomate aux fines herbes 680 ml", 299),
        ("Tomates en dés 796 ml", 199),
        ("Beurre d'arachide crémeux 1 kg", 699),
        ("Gruau à cuisson rapide 1 kg", 449),
        ("Céréales de flocons de maïs 525 g", 549),
        ("Café moulu torréfaction moyenne 925 g", 1499),
        ("Thé orange pekoe (boîte de 72 sachets)", 599),
        ("Huile de canola 3 L", 999),
        ("Huile d'olive extra vierge 1 L", 1399),
        ("Soupe aux pois 796 ml", 279),
        ("Fèves au lard à l'érable 398 ml", 229),
        ("Ketchup 1 L", 449),
        ("Moutarde jaune 400 ml", 229),
        ("Mayonnaise 890 ml", 599),
        ("Confiture de fraises 500 ml", 479),
        ("Thon pâle émietté dans l'eau 170 g", 189),
        ("Bouillon de poulet réduit en sel 900 ml", 299),
        ("Croustilles nature 235 g", 449),
    ]),
    ("Boissons", "BOI", (40, 120), [
        ("Eau de source 24 x 500 ml", 449),
        ("Jus d'orange sans pulpe 2 L", 549),
        ("Eau pétillante nature 1 L", 169),
        ("Boisson gazeuse cola 2 L", 249),
        ("Boisson gazeuse cola (12 canettes de 355 ml)", 799),
        ("Soda au gingembre (12 canettes de 355 ml)", 799),
        ("Jus de pomme 2 L", 399),
        ("Cocktail de canneberges 2 L", 449),
        ("Thé glacé au citron 2 L", 299),
        ("Limonade rose 2 L", 349),
        ("Boisson d'avoine originale 946 ml", 399),
        ("Boisson d'amande non sucrée 946 ml", 379),
        ("Boisson énergisante 473 ml", 329),
        ("Eau minérale gazéifiée 750 ml", 229),
        ("Jus de légumes (paquet de 6 x 340 ml)", 549),
        ("Café glacé moka 300 ml", 289),
        ("Kombucha gingembre et citron 414 ml", 399),
        ("Boisson pour sportifs aux fruits 710 ml", 249),
        ("Jus de raisin blanc 1 L", 349),
        ("Eau de coco 1 L", 499),
        ("Nectar de mangue 1 L", 349),
        ("Cidre de pomme pétillant sans alcool 750 ml", 599),
        ("Préparation pour chocolat chaud 450 g", 449),
        ("Eau de source 4 L", 249),
    ]),
    ("Produits laitiers", "LAI", (40, 110), [
        ("Lait 2 % 2 L", 519),
        ("Lait 2 % en sacs 4 L", 749),
        ("Lait entier 2 L", 549),
        ("Lait écrémé 1 L", 279),
        ("Lait au chocolat 1 L", 329),
        ("Crème à cuisson 15 % 473 ml", 419),
        ("Crème à fouetter 35 % 473 ml", 499),
        ("Crème à café 10 % 1 L", 449),
        ("Yogourt grec nature 0 % 750 g", 599),
        ("Yogourt à la vanille 650 g", 399),
        ("Beurre salé 454 g", 629),
        ("Beurre non salé 454 g", 629),
        ("Fromage cheddar fort 400 g", 799),
        ("Fromage cheddar doux 400 g", 749),
        ("Fromage en grains 450 g", 699),
        ("Fromage mozzarella 340 g", 599),
        ("Fromage suisse tranché 230 g", 549),
        ("Fromage à la crème nature 250 g", 449),
        ("Fromage cottage 2 % 500 g", 429),
        ("Parmesan râpé 250 g", 799),
        ("Crème sure 14 % 500 ml", 299),
        ("Kéfir nature 1 L", 549),
        ("Œufs gros (boîte de 12)", 459),
        ("Margarine molle 850 g", 549),
    ]),
    ("Boulangerie", "BOU", (30, 90), [
        ("Pain de mie blanc 675 g", 329),
        ("Pain de blé entier 675 g", 349),
        ("Pain multigrain tranché 600 g", 399),
        ("Pain de seigle tranché 500 g", 399),
        ("Baguette parisienne 300 g", 249),
        ("Pain ciabatta 400 g", 349),
        ("Croissants au beurre (paquet de 6)", 549),
        ("Chocolatines (paquet de 4)", 549),
        ("Muffins anglais (paquet de 6)", 329),
        ("Bagels au sésame (paquet de 6)", 449),
        ("Bagels tout garnis (paquet de 6)", 449),
        ("Pain aux raisins et cannelle 450 g", 429),
        ("Tortillas de blé 25 cm (paquet de 10)", 399),
        ("Pains à hamburger (paquet de 8)", 349),
        ("Pains à hot-dog (paquet de 8)", 349),
        ("Pains pitas (paquet de 6)", 299),
        ("Naans nature (paquet de 4)", 399),
        ("Muffins aux bleuets (paquet de 4)", 549),
        ("Brioches à la cannelle (paquet de 6)", 599),
        ("Beignes au chocolat (paquet de 6)", 499),
        ("Tarte au sucre 600 g", 899),
        ("Gâteau aux carottes 500 g", 899),
        ("Biscuits à l'avoine (paquet de 12)", 499),
        ("Pain sans gluten tranché 450 g", 699),
    ]),
    ("Fruits et légumes", "FRL", (40, 120), [
        ("Pommes McIntosh (sac de 3 lb)", 449),
        ("Bananes (environ 1 kg)", 169),
        ("Carottes (sac de 2 lb)", 249),
        ("Pommes de terre jaunes (sac de 10 lb)", 599),
        ("Oignons jaunes (sac de 3 lb)", 349),
        ("Cœurs de romaine (paquet de 3)", 449),
        ("Tomates en grappe 680 g", 399),
        ("Bleuets (casseau de 510 g)", 599),
        ("Fraises du Québec (casseau de 1 L)", 599),
        ("Brocoli (la pièce)", 299),
        ("Poivrons rouges (paquet de 3)", 599),
        ("Champignons blancs 227 g", 249),
        ("Concombre anglais (la pièce)", 179),
        ("Céleri (le pied)", 299),
        ("Oranges navel (sac de 4 lb)", 699),
        ("Citrons (sac de 6)", 399),
        ("Raisins rouges sans pépins (environ 900 g)", 599),
        ("Avocats (filet de 4)", 499),
        ("Bébés épinards 142 g", 349),
        ("Mélange printanier 142 g", 349),
        ("Patates douces (sac de 3 lb)", 499),
        ("Ail (filet de 3 têtes)", 199),
        ("Poires Bartlett (sac de 3 lb)", 599),
        ("Blé d'Inde (paquet de 6 épis)", 399),
    ]),
    ("Hygiène et beauté", "HYG", (20, 60), [
        ("Dentifrice menthe fraîche 130 ml", 299),
        ("Brosses à dents souples (paquet de 2)", 449),
        ("Rince-bouche antiseptique 1 L", 699),
        ("Soie dentaire à la menthe 50 m", 299),
        ("Shampooing usage fréquent 400 ml", 599),
        ("Revitalisant hydratant 400 ml", 599),
        ("Pains de savon hydratants (paquet de 4)", 549),
        ("Savon à mains liquide 500 ml", 349),
        ("Gel douche aux agrumes 500 ml", 549),
        ("Déodorant sans parfum 85 g", 549),
        ("Crème hydratante pour le visage 50 ml", 1499),
        ("Lotion corporelle non parfumée 400 ml", 799),
        ("Écran solaire FPS 30 (240 ml)", 1299),
        ("Rasoirs jetables (paquet de 10)", 899),
        ("Gel à raser peau sensible 200 ml", 449),
        ("Baume à lèvres hydratant (paquet de 2)", 499),
        ("Papiers-mouchoirs (boîte de 160)", 249),
        ("Cotons-tiges (boîte de 500)", 349),
        ("Tampons d'ouate (paquet de 100)", 299),
        ("Pansements adhésifs (boîte de 40)", 549),
        ("Acétaminophène 500 mg (100 comprimés)", 999),
        ("Vitamine D 1000 UI (180 comprimés)", 999),
        ("Gel désinfectant pour les mains 250 ml", 399),
        ("Serviettes hygiéniques régulières (paquet de 36)", 799),
    ]),
    ("Entretien ménager", "ENT", (20, 60), [
        ("Détergent à lessive liquide HE 3 L", 1399),
        ("Capsules de détergent à lessive (paquet de 42)", 1699),
        ("Savon à vaisselle liquide 740 ml", 349),
        ("Pastilles pour lave-vaisselle (boîte de 60)", 1499),
        ("Nettoyant tout usage 950 ml", 399),
        ("Nettoyant à vitres 950 ml", 399),
        ("Nettoyant pour salle de bain 950 ml", 449),
        ("Nettoyant pour cuvette 710 ml", 349),
        ("Eau de Javel 3 L", 449),
        ("Assouplissant liquide 2 L", 699),
        ("Feuilles assouplissantes (boîte de 120)", 799),
        ("Essuie-tout (paquet de 6 rouleaux)", 999),
        ("Papier hygiénique 2 épaisseurs (24 rouleaux)", 1599),
        ("Sacs à ordures extra-forts (boîte de 40)", 999),
        ("Sacs pour poubelle de cuisine (boîte de 50)", 549),
        ("Sacs transparents pour le recyclage (boîte de 30)", 799),
        ("Éponges à récurer (paquet de 6)", 549),
        ("Linges en microfibre (paquet de 4)", 799),
        ("Lingettes désinfectantes (boîte de 80)", 699),
        ("Gants de caoutchouc (taille M)", 349),
        ("Vadrouille en microfibre", 2499),
        ("Balai avec porte-poussière", 1999),
        ("Assainisseur d'air lavande 250 g", 349),
        ("Papier d'aluminium 15 m", 349),
    ]),
    ("Quincaillerie", "QUI", (10, 40), [
        ("Ampoule DEL 60 W (paquet de 4)", 999),
        ("Ampoule DEL 100 W (paquet de 2)", 899),
        ("Piles AA alcalines (paquet de 8)", 999),
        ("Piles AAA alcalines (paquet de 8)", 999),
        ("Ruban adhésif en toile 48 mm x 55 m", 899),
        ("Ruban à mesurer 8 m", 1499),
        ("Tournevis 6 en 1", 1299),
        ("Marteau de menuisier 16 oz", 1999),
        ("Vis à bois no 8 x 1 po (boîte de 100)", 799),
        ("Rallonge électrique d'intérieur 3 m", 999),
        ("Barre d'alimentation 6 prises avec parasurtenseur", 2499),
        ("Lampe de poche DEL 300 lm", 1499),
        ("Gants de travail en cuir (taille L)", 1299),
        ("Pinceau angulaire 50 mm", 899),
        ("Manchons pour rouleau à peinture (paquet de 3)", 1199),
        ("Apprêt et peinture d'intérieur blanc 946 ml", 2799),
        ("Scellant silicone blanc 300 ml", 799),
        ("Ruban de masquage 24 mm x 55 m", 549),
        ("Attaches de câble 20 cm (paquet de 100)", 599),
        ("Cadenas laminé 40 mm", 1299),
        ("Avertisseur de fumée à pile", 2499),
        ("Sel de déglaçage 10 kg", 899),
        ("Pelle à neige ergonomique 46 cm", 3499),
        ("Balai à neige avec grattoir", 1499),
    ]),
    ("Papeterie", "PAP", (15, 50), [
        ("Cahiers Canada 32 pages (paquet de 4)", 249),
        ("Cahier à spirale ligné 200 pages", 449),
        ("Stylos à bille bleus (paquet de 10)", 499),
        ("Crayons à mine HB (paquet de 12)", 349),
        ("Surligneurs assortis (paquet de 4)", 599),
        ("Papier pour imprimante 500 feuilles", 899),
        ("Cartable à anneaux 1 po", 599),
        ("Feuilles mobiles lignées (paquet de 200)", 399),
        ("Intercalaires à onglets (paquet de 8)", 249),
        ("Notes autocollantes 76 x 76 mm (paquet de 6)", 899),
        ("Ciseaux 20 cm", 549),
        ("Bâton de colle 40 g", 249),
        ("Gommes à effacer (paquet de 3)", 249),
        ("Taille-crayon avec réservoir", 199),
        ("Règle 30 cm", 149),
        ("Enveloppes blanches no 10 (boîte de 50)", 549),
        ("Agenda hebdomadaire format de poche", 1299),
        ("Crayons de couleur (boîte de 24)", 599),
        ("Marqueurs permanents noirs (paquet de 4)", 699),
        ("Rubans correcteurs (paquet de 2)", 599),
        ("Agrafeuse de bureau", 1299),
        ("Agrafes standard (boîte de 5000)", 349),
        ("Étui à crayons en tissu", 699),
        ("Calculatrice scientifique", 1999),
    ]),
    ("Électronique", "ELE", (10, 25), [
        ("Câble USB-C 1 m", 1499),
        ("Câble USB-C vers Lightning 1 m", 1999),
        ("Chargeur mural USB-C 20 W", 2499),
        ("Chargeur d'auto double USB", 1999),
        ("Batterie externe 10 000 mAh", 3999),
        ("Écouteurs sans fil Bluetooth", 5999),
        ("Écouteurs filaires avec micro", 1499),
        ("Casque d'écoute à réduction de bruit", 14999),
        ("Haut-parleur Bluetooth portatif", 4999),
        ("Souris sans fil", 2499),
        ("Clavier sans fil (français canadien)", 3999),
        ("Clé USB 64 Go", 1499),
        ("Carte microSD 128 Go", 2499),
        ("Disque SSD externe 1 To", 12999),
        ("Câble HDMI 2 m", 1499),
        ("Webcam HD 1080p", 5999),
        ("Support de téléphone magnétique pour l'auto", 2499),
        ("Protecteur d'écran en verre trempé", 1999),
        ("Routeur Wi-Fi 6 double bande", 12999),
        ("Montre intelligente", 19999),
        ("Tablette 10 po 64 Go", 22999),
        ("Prises intelligentes Wi-Fi (paquet de 2)", 2999),
        ("Concentrateur USB-C 4 ports", 3499),
        ("Télécommande universelle", 2499),
    ]),
]

# id, code, name, city, size (scales the target levels: the downtown store sells most)
STORES = [
    (1, "MTL-CENTRE", "Magasin Montréal Centre-ville", "Montréal", 1.15),
    (2, "QC-STROCH", "Magasin Québec Saint-Roch", "Québec", 1.0),
    (3, "LAV-CHOMEDEY", "Magasin Laval Chomedey", "Laval", 1.0),
    (4, "GAT-HULL", "Magasin Gatineau Hull", "Gatineau", 0.9),
    (5, "SHE-FLEURIMONT", "Magasin Sherbrooke Fleurimont", "Sherbrooke", 0.85),
]

# The first two products of each category (EPI-0001, EPI-0002, LAI-0001, ...) are the ones
# the integration tests and the README sell, restock and look up: they are always stocked,
# in every store and centrally, and never drawn for the low or empty lines below.
ANCHORS_PER_CATEGORY = 2

LOW_SHARE = 0.08           # store lines under the reorder point
EMPTY_SHARE_OF_LOW = 1 / 3  # of those, the ones at 0
CENTRAL_EMPTY_SHARE = 0.05
CENTRAL_LOW_SHARE = 0.10   # 1 to 19 units


def check_digit(body: str) -> str:
    """GS1 check digit of the first 12 digits: weights 1, 3, 1, 3, ... from the left."""
    weighted = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(body))
    return str((10 - weighted % 10) % 10)


def ean13() -> str:
    body = rng.choice(["0627", "0628"]) + "".join(str(rng.randrange(10)) for _ in range(8))
    return body + check_digit(body)


def price(usual: int) -> int:
    """The usual price varied by up to 6%, most often ending in 9, sometimes in 5."""
    cents = round(usual * rng.uniform(0.94, 1.06))
    cents = cents // 10 * 10 + (9 if rng.random() < 0.88 else 5)
    return min(max(cents, 149), 24999)


def build_catalog() -> list[dict]:
    products, barcodes, names = [], set(), set()
    for category, prefix, target_range, items in CATEGORIES:
        assert len(items) == 24, f"{category}: {len(items)} products"
        for n, (name, usual) in enumerate(items, start=1):
            assert name not in names, f"duplicate name {name}"
            names.add(name)
            code = ean13()
            while code in barcodes:
                code = ean13()
            barcodes.add(code)
            products.append({
                "sku": f"{prefix}-{n:04d}",
                "ean13": code,
                "name": name,
                "category": category,
                "price_cents": price(usual),
                "target_range": target_range,
                "anchor": n <= ANCHORS_PER_CATEGORY,
            })
    return products


def build_stock(products: list[dict]) -> list[list]:
    # A product's usual target level, the same order of size in every store.
    usual_target = {p["sku"]: rng.randint(*p["target_range"]) for p in products}
    drawable = [p["sku"] for p in products if not p["anchor"]]
    low_count = round(LOW_SHARE * len(products))
    empty_count = round(EMPTY_SHARE_OF_LOW * low_count)
    rows = []
    for store_id, _, _, _, size in STORES:
        low = rng.sample(drawable, low_count)
        empty = set(low[:empty_count])
        low = set(low)
        for p in products:
            low_end, high_end = p["target_range"]
            target = round(usual_target[p["sku"]] * size * rng.uniform(0.9, 1.1))
            target = min(max(target, max(10, low_end - 5)), min(120, high_end + 10))
            reorder = max(3, round(target * rng.uniform(0.25, 0.35)))
            if p["sku"] in empty:
                on_hand = 0
            elif p["sku"] in low:
                on_hand = rng.randint(1, reorder - 1)
            else:
                on_hand = rng.randint(reorder, target)
            rows.append([store_id, p["sku"], on_hand, reorder, target])
    return rows


def build_central(products: list[dict]) -> list[list]:
    drawable = [p["sku"] for p in products if not p["anchor"]]
    drawn = rng.sample(drawable, round((CENTRAL_EMPTY_SHARE + CENTRAL_LOW_SHARE) * len(products)))
    empty_count = round(CENTRAL_EMPTY_SHARE * len(products))
    empty, low = set(drawn[:empty_count]), set(drawn[empty_count:])
    rows = []
    for p in products:
        # Fast movers (groceries) are kept in larger quantities than electronics.
        ceiling = min(2000, max(300, p["target_range"][1] * 16))
        if p["sku"] in empty:
            on_hand = 0
        elif p["sku"] in low:
            on_hand = rng.randint(1, 19)
        elif p["anchor"]:
            on_hand = rng.randint(200, ceiling)
        else:
            on_hand = rng.randint(20, ceiling)
        rows.append([p["sku"], on_hand])
    return rows


def write(name: str, header: list[str], rows: list[list]) -> None:
    with open(OUT / name, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    print(f"{name}: {len(rows)} lines")


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    products = build_catalog()
    write("catalog.csv", ["sku", "ean13", "name", "category", "price_cents"],
          [[p["sku"], p["ean13"], p["name"], p["category"], p["price_cents"]] for p in products])
    write("stores.csv", ["store_id", "code", "name", "city"], [s[:4] for s in STORES])
    write("stock.csv", ["store_id", "sku", "on_hand", "reorder_point", "target_level"],
          build_stock(products))
    write("central_stock.csv", ["sku", "on_hand"], build_central(products))


if __name__ == "__main__":
    main()
