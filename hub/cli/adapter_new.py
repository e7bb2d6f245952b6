import click
@click.group()
def adapter() -> None:
    """x"""
