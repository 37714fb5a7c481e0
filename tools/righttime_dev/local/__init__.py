"""Local mode: the real handlers on an embedded moto, with the template as the source of truth.

Nothing here is deployed behaviour: it plays the parts of AWS that moto does not (API Gateway, the SQS and
stream event source mappings, EventBridge Scheduler firing, an inbox) so the same code runs on one machine.
"""
