"""The distiller checks each routing against its loss's ``forward`` and
writes the whole routing to the log when the algorithm is built."""
import pytest
from mmengine.logging import MMLogger

from mmokd.registry import MODELS
from tests.toy_models import dml_config

STUDENT_LOGITS = dict(peer='student', recorder='logits')
TEACHER_LOGITS = dict(peer='teacher', recorder='logits')


def with_extra_term(mapping):
    """A DML config with one more student term routed by ``mapping``."""
    return dml_config(distiller=dict(
        type='mmokd.OnlineDistiller',
        losses=dict(student=dict(
            loss_extra=dict(type='mmokd.DMLLoss'))),
        loss_forward_mappings=dict(student=dict(loss_extra=mapping))))


def test_misspelt_argument_is_refused_at_build():
    cfg = with_extra_term(dict(pred_S=STUDENT_LOGITS, preds_T=TEACHER_LOGITS))
    with pytest.raises(ValueError) as error:
        MODELS.build(cfg)
    message = str(error.value)
    assert 'model.distiller.loss_forward_mappings.student.loss_extra' in \
        message
    assert "unknown arguments ['pred_S']" in message
    assert 'preds_S' in message  # what the loss does take


def test_missing_required_argument_is_refused_at_build():
    cfg = with_extra_term(dict(preds_S=STUDENT_LOGITS))
    with pytest.raises(ValueError, match=r"required arguments \['preds_T'\]"):
        MODELS.build(cfg)


def test_routing_table_shows_generated_terms(capsys):
    logger = MMLogger.get_instance('routing_test', log_level='INFO')
    assert MMLogger.get_current_instance() is logger
    model = MODELS.build(with_extra_term(
        dict(preds_S=STUDENT_LOGITS, preds_T=[TEACHER_LOGITS])))
    table = model.distiller.routing_table()
    lines = table.splitlines()
    assert '  recorder  student.logits <- ModuleOutputs(head.fc)' in lines
    assert '  recorder  teacher.logits <- ModuleOutputs(head.fc)' in lines
    # DML's generated terms and the configured one, with their sources.
    assert ('  term      teacher: loss_dml = DMLLoss('
            'preds_S <- teacher.logits, preds_T <- [student.logits], '
            'gt <- data:gt)' in lines), table
    assert ('  term      student: loss_extra = DMLLoss('
            'preds_S <- student.logits, preds_T <- [teacher.logits])'
            in lines), table
    assert 'Online distillation routing:' in capsys.readouterr().out
