"""The service directory: services read from an Open Referral UK / HSDS feed, linked to partners, with capacity.

- ``records``: one HSDS service document read into a ``DirectoryService`` (ids, status, ages, terms, areas,
  capacities), with clear errors for what cannot be read
- ``database``: where the directory is kept (a SQLite file in the state directory, or tables in the hub's
  PostgreSQL database)
- ``feed``: paging ``/services`` and fetching ``/services/{id}`` over HTTP
- ``importer``: one import run: upserts what changed, withdraws what a complete listing no longer names
- ``links``: ``[plugins.hostels]`` configuration linking services to partners, with eligibility
- ``matching``: which linked services may take a referral, and in which order
- ``commands``, ``capacity_api``, ``refresh``: the ``hub directory`` commands, the providers' capacity API and
  the scheduled refresh

Directory data describes services, never people: it is kept in clear.
"""
