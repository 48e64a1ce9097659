"""Frozen msgspec structs of each provider's wire payloads, keeping the provider's field names.

Only the fields polyloly reads are declared (unknown fields are ignored by msgspec), and
every field a provider may omit has a default, so that a new field or a missing optional
one does not make a whole payload "malformed".
"""
