"""Reference data for the Olist-shaped generator: categories, places, review phrases.

The category names are Olist's own (the 71 rows of ``product_category_name_translation.csv``), so that
generated products join the translation table exactly as real ones do. Places are Brazilian cities with
the range of 5-digit zip code prefixes they use and an approximate centre; the weights follow where
Olist's customers and sellers live (São Paulo state far ahead). Review phrases are short Portuguese
comments written for civiclake, grouped by how happy the customer is.
"""

from __future__ import annotations

from dataclasses import dataclass

# (product_category_name, product_category_name_english), in the order of Olist's translation file.
CATEGORY_TRANSLATIONS: tuple[tuple[str, str], ...] = (
    ("beleza_saude", "health_beauty"),
    ("informatica_acessorios", "computers_accessories"),
    ("automotivo", "auto"),
    ("cama_mesa_banho", "bed_bath_table"),
    ("moveis_decoracao", "furniture_decor"),
    ("esporte_lazer", "sports_leisure"),
    ("perfumaria", "perfumery"),
    ("utilidades_domesticas", "housewares"),
    ("telefonia", "telephony"),
    ("relogios_presentes", "watches_gifts"),
    ("alimentos_bebidas", "food_drink"),
    ("bebes", "baby"),
    ("papelaria", "stationery"),
    ("tablets_impressao_imagem", "tablets_printing_image"),
    ("brinquedos", "toys"),
    ("telefonia_fixa", "fixed_telephony"),
    ("ferramentas_jardim", "garden_tools"),
    ("fashion_bolsas_e_acessorios", "fashion_bags_accessories"),
    ("eletroportateis", "small_appliances"),
    ("consoles_games", "consoles_games"),
    ("audio", "audio"),
    ("fashion_calcados", "fashion_shoes"),
    ("cool_stuff", "cool_stuff"),
    ("malas_acessorios", "luggage_accessories"),
    ("climatizacao", "air_conditioning"),
    ("construcao_ferramentas_construcao", "construction_tools_construction"),
    ("moveis_cozinha_area_de_servico_jantar_e_jardim", "kitchen_dining_laundry_garden_furniture"),
    ("construcao_ferramentas_jardim", "costruction_tools_garden"),
    ("fashion_roupa_masculina", "fashion_male_clothing"),
    ("pet_shop", "pet_shop"),
    ("moveis_escritorio", "office_furniture"),
    ("market_place", "market_place"),
    ("eletronicos", "electronics"),
    ("eletrodomesticos", "home_appliances"),
    ("artigos_de_festas", "party_supplies"),
    ("casa_conforto", "home_confort"),
    ("construcao_ferramentas_ferramentas", "costruction_tools_tools"),
    ("agro_industria_e_comercio", "agro_industry_and_commerce"),
    ("moveis_colchao_e_estofado", "furniture_mattress_and_upholstery"),
    ("livros_tecnicos", "books_technical"),
    ("casa_construcao", "home_construction"),
    ("instrumentos_musicais", "musical_instruments"),
    ("moveis_sala", "furniture_living_room"),
    ("construcao_ferramentas_iluminacao", "construction_tools_lights"),
    ("industria_comercio_e_negocios", "industry_commerce_and_business"),
    ("alimentos", "food"),
    ("artes", "art"),
    ("moveis_quarto", "furniture_bedroom"),
    ("livros_interesse_geral", "books_general_interest"),
    ("construcao_ferramentas_seguranca", "construction_tools_safety"),
    ("fashion_underwear_e_moda_praia", "fashion_underwear_beach"),
    ("fashion_esporte", "fashion_sport"),
    ("sinalizacao_e_seguranca", "signaling_and_security"),
    ("pcs", "computers"),
    ("artigos_de_natal", "christmas_supplies"),
    ("fashion_roupa_feminina", "fashio_female_clothing"),
    ("eletrodomesticos_2", "home_appliances_2"),
    ("livros_importados", "books_imported"),
    ("bebidas", "drinks"),
    ("cine_foto", "cine_photo"),
    ("la_cuisine", "la_cuisine"),
    ("musica", "music"),
    ("casa_conforto_2", "home_comfort_2"),
    ("portateis_casa_forno_e_cafe", "small_appliances_home_oven_and_coffee"),
    ("cds_dvds_musicais", "cds_dvds_musicals"),
    ("dvds_blu_ray", "dvds_blu_ray"),
    ("flores", "flowers"),
    ("artes_e_artesanato", "arts_and_craftmanship"),
    ("fraldas_higiene", "diapers_and_hygiene"),
    ("fashion_roupa_infanto_juvenil", "fashion_childrens_clothes"),
    ("seguros_e_servicos", "security_and_services"),
)

# Categories that sell more than the others (a weight of 1 for the rest), roughly as on Olist.
POPULAR_CATEGORIES: dict[str, float] = {
    "cama_mesa_banho": 11.0,
    "beleza_saude": 9.5,
    "esporte_lazer": 8.5,
    "moveis_decoracao": 8.0,
    "informatica_acessorios": 7.5,
    "utilidades_domesticas": 7.0,
    "relogios_presentes": 5.5,
    "telefonia": 4.5,
    "ferramentas_jardim": 4.0,
    "automotivo": 4.0,
    "brinquedos": 3.8,
    "cool_stuff": 3.5,
    "perfumaria": 3.2,
    "bebes": 2.8,
    "eletronicos": 2.6,
    "papelaria": 2.3,
    "fashion_bolsas_e_acessorios": 1.9,
    "pet_shop": 1.8,
    "moveis_escritorio": 1.6,
    "consoles_games": 1.1,
}


@dataclass(frozen=True)
class Place:
    state: str
    city: str  # lower case without accents, as Olist writes it
    zip_low: int
    zip_high: int
    latitude: float
    longitude: float
    weight: float


PLACES: tuple[Place, ...] = (
    Place("SP", "sao paulo", 1000, 5999, -23.55, -46.63, 15.6),
    Place("SP", "guarulhos", 7000, 7399, -23.46, -46.53, 1.2),
    Place("SP", "sao bernardo do campo", 9600, 9899, -23.69, -46.56, 0.9),
    Place("SP", "santo andre", 9000, 9299, -23.66, -46.53, 0.8),
    Place("SP", "osasco", 6000, 6299, -23.53, -46.79, 0.7),
    Place("SP", "campinas", 13000, 13139, -22.91, -47.06, 1.5),
    Place("SP", "sorocaba", 18000, 18109, -23.50, -47.46, 0.6),
    Place("SP", "ribeirao preto", 14000, 14114, -21.18, -47.81, 0.6),
    Place("SP", "santos", 11000, 11099, -23.96, -46.33, 0.6),
    Place("SP", "sao jose dos campos", 12200, 12249, -23.18, -45.88, 0.6),
    Place("SP", "franca", 14400, 14414, -20.54, -47.40, 0.3),
    Place("SP", "piracicaba", 13400, 13429, -22.73, -47.65, 0.3),
    Place("SP", "mogi das cruzes", 8700, 8899, -23.52, -46.19, 0.4),
    Place("RJ", "rio de janeiro", 20000, 23799, -22.91, -43.17, 6.9),
    Place("RJ", "niteroi", 24000, 24399, -22.88, -43.10, 0.8),
    Place("RJ", "nova iguacu", 26000, 26099, -22.76, -43.45, 0.5),
    Place("RJ", "petropolis", 25600, 25779, -22.51, -43.18, 0.3),
    Place("MG", "belo horizonte", 30000, 31999, -19.92, -43.94, 2.8),
    Place("MG", "contagem", 32000, 32399, -19.93, -44.05, 0.5),
    Place("MG", "uberlandia", 38400, 38414, -18.92, -48.28, 0.5),
    Place("MG", "juiz de fora", 36000, 36099, -21.76, -43.35, 0.5),
    Place("MG", "montes claros", 39400, 39409, -16.73, -43.86, 0.3),
    Place("MG", "timoteo", 35180, 35184, -19.58, -42.64, 0.1),
    Place("RS", "porto alegre", 90000, 91999, -30.03, -51.23, 1.4),
    Place("RS", "caxias do sul", 95000, 95124, -29.17, -51.18, 0.4),
    Place("RS", "pelotas", 96000, 96099, -31.77, -52.34, 0.3),
    Place("PR", "curitiba", 80000, 82999, -25.43, -49.27, 1.5),
    Place("PR", "londrina", 86000, 86099, -23.31, -51.16, 0.4),
    Place("PR", "maringa", 87000, 87119, -23.42, -51.94, 0.4),
    Place("SC", "florianopolis", 88000, 88099, -27.59, -48.55, 0.6),
    Place("SC", "joinville", 89200, 89239, -26.30, -48.85, 0.5),
    Place("SC", "jaragua do sul", 89250, 89269, -26.49, -49.07, 0.2),
    Place("SC", "blumenau", 89000, 89099, -26.92, -49.07, 0.4),
    Place("BA", "salvador", 40000, 42599, -12.97, -38.50, 1.3),
    Place("BA", "feira de santana", 44000, 44099, -12.27, -38.97, 0.3),
    Place("DF", "brasilia", 70000, 72799, -15.79, -47.88, 2.1),
    Place("GO", "goiania", 74000, 74899, -16.69, -49.26, 1.0),
    Place("GO", "aparecida de goiania", 74900, 74999, -16.82, -49.24, 0.2),
    Place("ES", "vitoria", 29000, 29099, -20.32, -40.34, 0.6),
    Place("ES", "vila velha", 29100, 29129, -20.33, -40.29, 0.5),
    Place("ES", "cachoeiro de itapemirim", 29300, 29319, -20.85, -41.11, 0.2),
    Place("PE", "recife", 50000, 52999, -8.05, -34.88, 0.8),
    Place("PE", "jaboatao dos guararapes", 54000, 54499, -8.11, -35.01, 0.2),
    Place("CE", "fortaleza", 60000, 61599, -3.73, -38.52, 0.8),
    Place("PA", "belem", 66000, 66999, -1.46, -48.50, 0.6),
    Place("PA", "pacaja", 68485, 68489, -3.84, -50.64, 0.05),
    Place("MT", "cuiaba", 78000, 78109, -15.60, -56.10, 0.5),
    Place("MS", "campo grande", 79000, 79124, -20.47, -54.62, 0.5),
    Place("MA", "sao luis", 65000, 65109, -2.53, -44.30, 0.4),
    Place("PB", "joao pessoa", 58000, 58099, -7.12, -34.86, 0.3),
    Place("RN", "natal", 59000, 59139, -5.79, -35.21, 0.3),
    Place("AL", "maceio", 57000, 57099, -9.67, -35.74, 0.3),
    Place("PI", "teresina", 64000, 64099, -5.09, -42.80, 0.3),
    Place("SE", "aracaju", 49000, 49099, -10.91, -37.07, 0.2),
    Place("RO", "porto velho", 76800, 76834, -8.76, -63.90, 0.15),
    Place("TO", "palmas", 77000, 77270, -10.18, -48.33, 0.15),
    Place("AM", "manaus", 69000, 69099, -3.12, -60.02, 0.3),
    Place("AC", "rio branco", 69900, 69923, -9.97, -67.81, 0.05),
    Place("AP", "macapa", 68900, 68914, 0.03, -51.07, 0.05),
    Place("RR", "boa vista", 69300, 69339, 2.82, -60.67, 0.04),
)

# Sellers live even more in São Paulo state than customers do.
SELLER_STATE_BOOST: dict[str, float] = {"SP": 2.4, "PR": 1.3, "SC": 1.2}

REVIEW_TITLES: dict[str, tuple[str, ...]] = {
    "happy": ("Recomendo", "Ótimo", "Muito bom", "Excelente", "Super recomendo", "Perfeito", "Amei", "Nota 10"),
    "neutral": ("Bom", "Razoável", "Ok", "Poderia ser melhor", "Dentro do esperado"),
    "unhappy": ("Não recebi", "Péssimo", "Produto errado", "Atrasou", "Não recomendo", "Decepcionado"),
}
REVIEW_MESSAGES: dict[str, tuple[str, ...]] = {
    "happy": (
        "Chegou antes do prazo.",
        "Produto de ótima qualidade, recomendo.",
        "Entrega rápida e produto conforme o anúncio.",
        "Muito satisfeita com a compra",
        "Tudo certo, bem embalado e no prazo.",
        "Comprei para presente, adoraram!",
        "Loja confiável, comprarei novamente.",
        "Excelente vendedor, produto perfeito",
    ),
    "neutral": (
        "O produto é bom, mas a embalagem veio amassada.",
        "Chegou no prazo. A cor é um pouco diferente da foto.",
        "Razoável pelo preço",
        "Atendeu, mas esperava um acabamento melhor.",
    ),
    "unhappy": (
        "Ainda não recebi o produto e o prazo já passou.",
        "Veio com defeito, quero a troca.",
        "Recebi só uma parte do pedido, faltou um item.",
        "Produto diferente do anunciado. Péssimo atendimento",
        "Atrasou mais de uma semana, sem nenhuma resposta da loja",
    ),
}
