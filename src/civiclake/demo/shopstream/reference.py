"""Reference values the ShopStream generator draws from: French-heavy names and places, a product catalogue.

Weights are relative frequencies; they are what makes the generated shop look like a French e-commerce site
(most customers in France, Paris and the big cities first, mostly EUR, most orders delivered).
"""

from __future__ import annotations

from decimal import Decimal

FIRST_NAMES = (
    "Camille", "Léa", "Manon", "Chloé", "Emma", "Inès", "Jade", "Louise", "Alice", "Lina", "Sarah", "Julie",
    "Clara", "Anaïs", "Marie", "Lucie", "Pauline", "Mathilde", "Élodie", "Océane", "Zoé", "Margaux", "Juliette",
    "Hugo", "Lucas", "Louis", "Gabriel", "Arthur", "Jules", "Nathan", "Léo", "Raphaël", "Thomas", "Maxime",
    "Antoine", "Nicolas", "Julien", "Alexandre", "Théo", "Paul", "Mathis", "Romain", "Quentin", "Clément",
    "Baptiste", "Pierre", "Étienne", "Mehdi", "Karim", "Yanis", "Sofiane", "Fatima", "Amina", "Nour",
    "Jean", "Philippe", "Sylvie", "Isabelle", "Nathalie", "Christophe", "Laurent", "Valérie", "Sandrine",
)  # fmt: skip
LAST_NAMES = (
    "Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau", "Laurent",
    "Simon", "Michel", "Lefèvre", "Leroy", "Roux", "David", "Bertrand", "Morel", "Fournier", "Girard",
    "Bonnet", "Dupont", "Lambert", "Fontaine", "Rousseau", "Vincent", "Muller", "Lefebvre", "Faure", "André",
    "Mercier", "Blanc", "Guérin", "Boyer", "Garnier", "Chevalier", "François", "Legrand", "Gauthier", "Garcia",
    "Perrin", "Robin", "Clément", "Morin", "Nicolas", "Henry", "Roussel", "Mathieu", "Gautier", "Masson",
    "Marchand", "Duval", "Denis", "Dumont", "Marie", "Lemaire", "Noël", "Meyer", "Dufour", "Meunier",
    "Brun", "Blanchard", "Giraud", "Joly", "Rivière", "Lucas", "Brunet", "Gaillard", "Barbier", "Arnaud",
    "Benali", "Haddad", "Nguyen", "Da Silva", "Ferreira", "Le Gall", "Le Goff", "Kervella", "Schmitt", "Weber",
)  # fmt: skip
EMAIL_DOMAINS = (
    ("gmail.com", 38), ("orange.fr", 14), ("free.fr", 9), ("hotmail.fr", 9), ("yahoo.fr", 7), ("outlook.fr", 7),
    ("laposte.net", 6), ("sfr.fr", 5), ("icloud.com", 4), ("wanadoo.fr", 1),
)  # fmt: skip

# country -> (weight, ((city, weight), ...))
COUNTRIES: dict[str, tuple[int, tuple[tuple[str, int], ...]]] = {
    "FR": (
        72,
        (
            ("Paris", 30),
            ("Marseille", 9),
            ("Lyon", 9),
            ("Toulouse", 7),
            ("Nice", 5),
            ("Nantes", 5),
            ("Montpellier", 4),
            ("Strasbourg", 4),
            ("Bordeaux", 5),
            ("Lille", 5),
            ("Rennes", 4),
            ("Reims", 2),
            ("Saint-Étienne", 2),
            ("Le Havre", 2),
            ("Toulon", 2),
            ("Grenoble", 3),
            ("Dijon", 2),
            ("Angers", 2),
            ("Nîmes", 2),
            ("Villeurbanne", 2),
            ("Clermont-Ferrand", 2),
            ("Aix-en-Provence", 2),
            ("Brest", 2),
            ("Tours", 2),
            ("Amiens", 1),
            ("Limoges", 1),
            ("Annecy", 1),
            ("Perpignan", 1),
            ("Metz", 1),
            ("Besançon", 1),
            ("Orléans", 1),
            ("Rouen", 2),
            ("Caen", 1),
            ("Nancy", 1),
            ("Ajaccio", 1),
        ),
    ),
    "BE": (8, (("Bruxelles", 5), ("Liège", 2), ("Namur", 1), ("Charleroi", 1), ("Gand", 1), ("Anvers", 1))),
    "CH": (5, (("Genève", 4), ("Lausanne", 3), ("Neuchâtel", 1), ("Fribourg", 1), ("Sion", 1))),
    "LU": (2, (("Luxembourg", 4), ("Esch-sur-Alzette", 1))),
    "DE": (3, (("Berlin", 3), ("Munich", 2), ("Hambourg", 1), ("Francfort", 1), ("Cologne", 1))),
    "ES": (3, (("Madrid", 3), ("Barcelone", 3), ("Valence", 1), ("Séville", 1))),
    "IT": (3, (("Rome", 2), ("Milan", 3), ("Turin", 1), ("Naples", 1))),
    "GB": (2, (("Londres", 4), ("Manchester", 1), ("Édimbourg", 1))),
    "CA": (1, (("Montréal", 4), ("Québec", 2), ("Ottawa", 1))),
    "US": (1, (("New York", 2), ("San Francisco", 1), ("Chicago", 1))),
}
# Orders are paid in the shopper's currency where the shop offers it; EUR everywhere else.
CURRENCIES = {"GB": (("GBP", 85), ("EUR", 15)), "CH": (("CHF", 60), ("EUR", 40)), "US": (("USD", 1),)}
CURRENCIES |= {"CA": (("CAD", 70), ("USD", 30))}

SIGNUP_CHANNELS = (("organic", 45), ("ads", 25), ("referral", 18), ("partner", 12))
PLANS = (("free", 68), ("pro", 24), ("business", 8))
USER_STATUSES = (("active", 91), ("suspended", 3), ("closed", 6))
ORDER_STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled", "refunded")
EVENT_TYPES = ("page_view", "search", "add_to_cart", "checkout", "purchase", "login")
LIFECYCLE_STAGES = ("lead", "mql", "sql", "customer", "churned")

# category -> (sku prefix, (min price, max price) in EUR, brands, product nouns)
CATEGORIES: dict[str, tuple[str, tuple[int, int], tuple[str, ...], tuple[str, ...]]] = {
    "Électronique": (
        "ELE",
        (15, 900),
        ("Nordhaus", "Voltéa", "Lumio", "Sonora", "Kiwatt"),
        ("Casque audio", "Enceinte Bluetooth", "Chargeur rapide", "Montre connectée", "Liseuse", "Webcam HD",
         "Clavier sans fil", "Écouteurs", "Batterie externe", "Tablette"),
    ),
    "Maison & Cuisine": (
        "MAI",
        (8, 350),
        ("Atelier Lin", "Maison Perle", "Cuisor", "Fonte & Co"),
        ("Cocotte en fonte", "Plaid en laine", "Cafetière à piston", "Set de couteaux", "Lampe de chevet",
         "Coussin brodé", "Théière", "Bouilloire", "Planche à découper", "Parure de lit"),
    ),
    "Mode": (
        "MOD",
        (12, 260),
        ("Maille Douce", "Rive Gauche", "Atelier 1924", "Sillage"),
        ("Pull marin", "Trench", "Chemise en lin", "Jean brut", "Baskets en cuir", "Écharpe", "Robe portefeuille",
         "Veste en velours", "Bonnet", "Sac cabas"),
    ),
    "Sport & Loisirs": (
        "SPO",
        (10, 600),
        ("Cimes", "Vélocité", "Azur Outdoor", "Kapta"),
        ("Tapis de yoga", "Gourde isotherme", "Sac à dos 30 L", "Raquette de tennis", "Casque vélo", "Tente 2 places",
         "Chaussures de trail", "Haltères", "Ballon", "Lampe frontale"),
    ),
    "Beauté & Santé": (
        "BEA",
        (5, 120),
        ("Bulle de Savon", "Provence Pure", "Dermalys"),
        ("Crème hydratante", "Savon de Marseille", "Huile sèche", "Shampoing solide", "Sérum", "Baume à lèvres",
         "Eau de toilette", "Brosse à dents", "Masque visage", "Gel douche"),
    ),
    "Livres": (
        "LIV",
        (6, 60),
        ("Éditions du Quai", "Presses Vives", "Folio Bleu"),
        ("Roman policier", "Bande dessinée", "Livre de cuisine", "Guide de voyage", "Essai", "Recueil de poésie",
         "Manga", "Album jeunesse", "Biographie", "Atlas"),
    ),
    "Jouets": (
        "JOU",
        (7, 150),
        ("Petit Génie", "Bois & Malice", "Ludoflix"),
        ("Puzzle 1000 pièces", "Jeu de société", "Peluche", "Circuit de billes", "Kit créatif", "Poupée",
         "Voiture télécommandée", "Jeu de construction", "Dînette en bois", "Cerf-volant"),
    ),
    "Épicerie fine": (
        "EPI",
        (4, 80),
        ("Terroirs d'Ici", "La Belle Iloise", "Maison Nougat"),
        ("Huile d'olive", "Miel de lavande", "Confiture", "Café en grains", "Thé vert", "Chocolat noir",
         "Sel de Guérande", "Rillettes", "Biscuits au beurre", "Vinaigre balsamique"),
    ),
    "Jardin": (
        "JAR",
        (6, 450),
        ("Vert Tige", "Potager Malin"),
        ("Sécateur", "Arrosoir", "Jardinière", "Graines de tomates", "Hamac", "Salon de jardin", "Tuyau d'arrosage",
         "Composteur", "Gants de jardin", "Lanterne solaire"),
    ),
    "Bricolage": (
        "BRI",
        (8, 500),
        ("Outilor", "Forgeval"),
        ("Perceuse sans fil", "Coffret de tournevis", "Niveau laser", "Scie sauteuse", "Mètre ruban", "Escabeau",
         "Ponceuse", "Boîte à outils", "Pistolet à colle", "Lampe de travail"),
    ),
}  # fmt: skip
# The marketplace's sellers. Every brand is sold by one merchant (``merchant_for_brand``): a product's merchant
# follows from its brand, so adding the column draws nothing from the generators' random streams.
MERCHANTS = ("Maison Lumière", "Atelier Nord", "Comptoir du Sud", "Les Halles Numériques", "Boutique Océane")


def merchant_for_brand(brand: str) -> int:
    """The merchant id (1-based) that sells ``brand``: brands in sorted order dealt out to the merchants in turn."""
    brands = sorted({name for _, _, names, _ in CATEGORIES.values() for name in names})
    return brands.index(brand) % len(MERCHANTS) + 1


CATEGORY_WEIGHTS = {
    "Électronique": 16, "Maison & Cuisine": 14, "Mode": 16, "Sport & Loisirs": 10, "Beauté & Santé": 10,
    "Livres": 9, "Jouets": 7, "Épicerie fine": 7, "Jardin": 5, "Bricolage": 6,
}  # fmt: skip
PRODUCT_VARIANTS = ("", "", "Classique", "Premium", "Édition limitée", "Bio", "Compact", "XL", "Recyclé", "Duo")

SEARCH_QUERIES = (
    "casque bluetooth", "pull laine", "cafetière", "tapis yoga", "cadeau anniversaire", "chaussures trail",
    "miel", "puzzle", "perceuse", "crème visage", "roman policier", "sac à dos", "lampe", "jeu de société",
    "montre connectée", "huile d'olive", "plaid", "salon de jardin", "écouteurs sans fil", "trench femme",
)  # fmt: skip
REFERRERS = (("direct", 35), ("google", 38), ("instagram", 9), ("newsletter", 8), ("facebook", 6), ("bing", 4))
DEVICES = (("mobile", 58), ("desktop", 36), ("tablet", 6))
PAYMENT_METHODS = (("card", 72), ("paypal", 16), ("apple_pay", 8), ("bank_transfer", 4))
LOGIN_METHODS = (("password", 62), ("google", 24), ("magic_link", 14))

COMPANIES = (
    "Boulangerie Durand", "Atelier Moreau SARL", "Transports Girard", "Cabinet Lefèvre & Associés", "Studio Lumière",
    "Ferme des Trois Chênes", "Librairie du Centre", "Hôtel Bellevue", "Groupe Rivière", "Optique Mercier",
    "Pharmacie Saint-Michel", "Garage Fontaine", "Agence Horizon", "Imprimerie Bonnet", "Clinique Vétérinaire Roux",
    "Restaurant Le Comptoir", "SCOP Les Tisserands", "Brasserie du Port", "Menuiserie Blanc", "Cave Saint-Vincent",
    "Domaine de la Source", "EURL Nova Conseil", "Start-up Kiwatt", "Association Solidarité 13", "Mairie de Brest",
)  # fmt: skip
JOB_TITLES = (
    "Gérant", "Gérante", "Responsable achats", "Directrice marketing", "Chef de projet", "Office manager",
    "Comptable", "Responsable RH", "Directeur général", "Assistante de direction", "Acheteur", "Fondatrice",
    "Responsable e-commerce", "Consultant", "Ingénieure", "Chargé de communication",
)  # fmt: skip
SALES_OWNERS = (
    ("claire.dumas", 18), ("marc.olivier", 16), ("sophie.nguyen", 15), ("yann.le-bihan", 13),
    ("nadia.benali", 14), ("julien.roche", 12), ("emma.schmitt", 12),
)  # fmt: skip

# Order lines: how many items, how many of each, how often discounted and by how much.
ITEMS_PER_ORDER = ((1, 35), (2, 28), (3, 18), (4, 11), (5, 8))
QUANTITIES = ((1, 70), (2, 18), (3, 7), (4, 3), (5, 2))
DISCOUNT_RATES = (
    (Decimal("0"), 80), (Decimal("0.05"), 8), (Decimal("0.10"), 7), (Decimal("0.15"), 3), (Decimal("0.20"), 2),
)  # fmt: skip
