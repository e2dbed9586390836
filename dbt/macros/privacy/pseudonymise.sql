{#- A keyed, deterministic pseudonym of a personal value: HMAC-SHA256 of its text under civiclake's
    pseudonymisation key, as 64 lowercase hex digits, null for null. The same value gives the same pseudonym on
    DuckDB and on Trino, so cohorts and joins on it still work, and nobody without the key can recompute it
    from a guessed e-mail. The key (64 hex digits, 32 bytes) comes from the environment variable civiclake's
    settings read too, CIVICLAKE__PRIVACY__PSEUDONYMISATION_KEY: `civiclake transform` sets it on the local
    profile, a Kubernetes Secret on the cluster. Never a default: a build without the key stops. -#}
{% macro pseudonymise(column) -%}
    {{ return(adapter.dispatch('pseudonymise', 'civiclake')(column, civiclake.pseudonymisation_key())) }}
{%- endmacro %}

{% macro pseudonymisation_key() -%}
    {%- set key = env_var('CIVICLAKE__PRIVACY__PSEUDONYMISATION_KEY', '') | trim | lower -%}
    {%- if execute and not modules.re.fullmatch('[0-9a-f]{64}', key) -%}
        {{ exceptions.raise_compiler_error(
            "pseudonymise() needs the pseudonymisation key: set CIVICLAKE__PRIVACY__PSEUDONYMISATION_KEY to 64 hex "
            ~ "digits (civiclake transform sets it from the lakehouse's key)") }}
    {%- endif -%}
    {{ return(key if key else '0' * 64) }}
{%- endmacro %}

{#- Trino has HMAC-SHA256 built in. -#}
{% macro trino__pseudonymise(column, key) -%}
    lower(to_hex(hmac_sha256(to_utf8(cast({{ column }} as varchar)), from_hex('{{ key }}'))))
{%- endmacro %}

{#- DuckDB has SHA-256 but no HMAC: HMAC is spelled out (RFC 2104), H((K xor opad) || H((K xor ipad) || m)),
    with the 32-byte key padded with zeros to SHA-256's 64-byte block. -#}
{% macro duckdb__pseudonymise(column, key) -%}
    {%- set block = key ~ '0' * 64 -%}
    case when {{ column }} is not null then sha256(
        xor(unhex('{{ block }}')::bit, unhex('{{ '5c' * 64 }}')::bit)::blob
        || unhex(sha256(
            xor(unhex('{{ block }}')::bit, unhex('{{ '36' * 64 }}')::bit)::blob
            || encode(cast({{ column }} as varchar))
        ))
    ) end
{%- endmacro %}
