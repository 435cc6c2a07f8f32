"""tests/batch is run by tests/integration/batch.sh (CTest integration.batch_*)."""


def pytest_configure(config):
    config.addinivalue_line('markers', 'generated: generated exams (make_dicom_series)')
    config.addinivalue_line('markers', 'dcm_qa_dev: ../shared/data/dcm_qa_dev')
