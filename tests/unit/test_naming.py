import pytest

from civiclake.errors import IdentifierError
from civiclake.naming import MAX_IDENTIFIER_LENGTH, normalise_column_names, normalise_identifier, to_snake_case


def test_snake_case_folds_accents_and_camel_case() -> None:
    assert to_snake_case("Fréquentation  Voyageurs 2022") == "frequentation_voyageurs_2022"
    assert to_snake_case("CodeUIC") == "code_uic"
    assert to_snake_case("#Code_commune_INSEE") == "code_commune_insee"


def test_duplicate_headers_get_distinct_names_in_order() -> None:
    names = normalise_column_names(["Nom de la gare", "Code postal", "Nom de la gare", "Code Postal", "", "2015"])
    assert names == ["nom_de_la_gare", "code_postal", "nom_de_la_gare_2", "code_postal_2", "column_5", "col_2015"]


def test_long_names_are_bounded_and_stay_unique() -> None:
    base = "libelle tres long " * 10
    names = normalise_column_names([base + "a", base + "b"])
    assert all(len(name) <= MAX_IDENTIFIER_LENGTH for name in names)
    assert names[0] != names[1]


def test_an_identifier_without_letters_is_refused_with_its_name() -> None:
    with pytest.raises(IdentifierError, match=r"dataset '\?\?\?'"):
        normalise_identifier("???", what="dataset")
    assert normalise_identifier("2023 accidents") == "_2023_accidents"
