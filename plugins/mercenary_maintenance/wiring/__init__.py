"""The Airflow wiring: what turns the areas' declarations into DAGs and plugs the package into
Airflow. Above the areas; nothing below imports it.

* ``dagkit`` — the DAG and task factories (``maintenance_dag``, ``TaskSpec``, ``Group``, ``Gate``);
* ``registry`` — what one area needs from others (the emergency actions, the preview's probes,
  every area's bucket lifecycle rules), handed over by the declarations;
* ``service_probes`` — ``alert_evaluation``'s service probes, apart from the registry so its task
  process imports no other area;
* ``callbacks`` — the DAG and task callbacks (failure notices, deadline alerts);
* ``setup`` — the one-time setup step (pools, connections, variables);
* ``pool_guard`` — the scheduler listener that keeps the maintenance pools in place.
"""
