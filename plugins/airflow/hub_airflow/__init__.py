"""Apache Airflow 3 as the partner hub's milestone scheduler (``[pathway] scheduler = "airflow"``).

- ``scheduler``: ``AirflowScheduler``, one queued DAG run per pathway timer through Airflow's REST API
- ``settings``: the ``[pathway.airflow]`` table of hub.toml
- ``auth``: signing in to Airflow (a user and password, a token, or a development Airflow's open sign-in)
- ``dag_file``: the shipped DAG file, and ``hub airflow dag`` that prints or installs it
- ``testing``: a real ``airflow standalone`` on loopback for tests, and ``pytest_plugin`` its session fixture
"""
