"""Many services in one execution: the fan-out state machine's plan and summary.

The fan-out lists the services (``plan``), starts the single-service state machine once per
service from a Map state (``statemachine/fanout.asl.json``), and summarises what each run did
(``summary``). Plain Python like the rest of the core: no Lambda or Step Functions types.
"""
