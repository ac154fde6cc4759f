{#- Contact list of audience_birthday_this_month for marketing (restricted: raw contacts). -#}

{{ audience_contacts('audience_birthday_this_month') }}
