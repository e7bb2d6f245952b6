"""The care pathway's domain: milestones declared in ``config/pathways.toml`` and the clock they keep.

- ``clock``: offsets (``72h``, ``30d``, ``3mo``) added to instants in a zone, DST-safe, months clamped to their end
- ``spec``: the parsed milestones and pathway closures, and what one triggering or closing message means
- ``parse``: reading and checking ``pathways.toml`` (errors name the file, the milestone and what is wrong)

Nothing here names a partner or a partner format: every type, field and partner comes from the configuration.
"""
