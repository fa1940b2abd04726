"""The AI judge's pure parts: rubric text, the call it makes, verdict parsing/combining, ranking.

Nothing here touches the database, HTTP or Celery; services/judging.py does, and calls these.
"""
