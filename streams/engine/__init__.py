"""The decision engine: pure Python shared by the Faust agents and ``zeikan replay``.

Nothing in here touches Kafka or Faust: given events in event-time order it
produces the same decisions wherever it runs.
"""
