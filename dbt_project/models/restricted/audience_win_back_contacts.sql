{#- Contact list of audience_win_back for marketing (restricted: raw contacts). -#}

{{ audience_contacts('audience_win_back') }}
