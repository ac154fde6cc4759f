{#-
    Post-hook of every model and seed: logs the model's row count and first rows as one JSON line
    ("crm_table_figures {...}"). The Dagster dbt assets read it from dbt's event stream and
    put it on the model's materialisation (dagster/row_count, preview). It is read here,
    inside dbt, because dbt holds DuckDB's write lock for the whole build: Dagster cannot
    query the file until dbt exits, and holding every event until then would delay the
    checks' events too. The hook itself runs no statement. Columns that may hold personal
    data (var personal_column_patterns) are masked here, before the log is written, as
    pipelines/lib/observe.py masks them in Python-built previews.
-#}
{% macro report_table_figures(preview_rows=5) -%}
    {%- if execute and model.resource_type in ('model', 'seed') -%}
        {%- set counted = run_query('select count(*) from ' ~ this) -%}
        {%- set preview = run_query('select * from ' ~ this ~ ' limit ' ~ preview_rows) -%}
        {%- set personal = modules.re.compile(var('personal_column_patterns') | join('|'), modules.re.IGNORECASE) -%}
        {%- set rows = [] -%}
        {%- for row in preview.rows -%}
            {%- set cells = [] -%}
            {%- for value in row.values() -%}
                {%- set column = preview.column_names[loop.index0] -%}
                {%- if value is none -%}
                    {%- do cells.append(none) -%}
                {%- elif personal.search(column) -%}
                    {%- do cells.append('•••') -%}
                {%- else -%}
                    {%- do cells.append(value | string) -%}
                {%- endif -%}
            {%- endfor -%}
            {%- do rows.append(cells) -%}
        {%- endfor -%}
        {%- do log('crm_table_figures ' ~ tojson({
            'unique_id': model.unique_id,
            'row_count': counted.columns[0].values()[0] | int,
            'columns': preview.column_names | list,
            'rows': rows,
        }), info=True) -%}
    {%- endif -%}
{%- endmacro %}
