{#- Contact list of audience_recommendations for marketing (restricted: raw contacts). -#}

{{ audience_contacts('audience_recommendations') }}
