{#-
    shopify_keyed_rows(relation): the raw Shopify rows with their order_key.

    Order names (#1001) are numbered per store, so a merchant with several stores delivers
    exports whose names collide. The first row of an order carries Shopify's own order Id:
    an order is its name and that Id. The store whose order first used a name (the
    earliest load) keeps the bare name as order_key, so keys and the customer ids derived
    from them never change when another store's export arrives; an order of another store
    with the same name is keyed '<name>@<Id>'. Every row of an order takes the Id of its
    order's first row in the same load; a re-delivery (same name and Id, or no Id) keeps
    the key.
-#}
{% macro shopify_keyed_rows(relation) -%}
    select
        named.*,
        case
            when load_ids.order_id is null
                or first_ids.order_id is null
                or load_ids.order_id = first_ids.order_id
                then named.order_name_key
            else {{ dbt.concat(['named.order_name_key', "'@'", 'load_ids.order_id']) }}
        end as order_key
    from (
        select *, {{ clean_text('order_name') }} as order_name_key from {{ relation }}
    ) as named
    inner join (
        -- each load and name: the Id on the order's first row (one per order and file)
        select
            _load_id,
            {{ clean_text('order_name') }} as order_name_key,
            min({{ clean_text('shopify_order_id') }}) as order_id,
            min(_loaded_at) as loaded_at
        from {{ relation }}
        group by _load_id, {{ clean_text('order_name') }}
    ) as load_ids
        on named._load_id = load_ids._load_id
        and named.order_name_key = load_ids.order_name_key
    left join (
        -- each name: the Id of the earliest load that gave it one
        select order_name_key, order_id
        from (
            select
                {{ clean_text('order_name') }} as order_name_key,
                {{ clean_text('shopify_order_id') }} as order_id,
                row_number() over (
                    partition by {{ clean_text('order_name') }}
                    order by _loaded_at, _load_id, _source_line
                ) as id_rank
            from {{ relation }}
            where {{ clean_text('shopify_order_id') }} is not null
        ) as ranked
        where id_rank = 1
    ) as first_ids
        on named.order_name_key = first_ids.order_name_key
{%- endmacro %}
