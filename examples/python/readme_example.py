"""The original README's Python examples (github erling6232/imagedata,
README.rst), verbatim, on a DICOM folder: run in WORKDIR with the series
copied to dicomDir, dirA and dirB.

    python readme_example.py WORKDIR DICOM_FOLDER
"""
import os
import shutil
import sys

work, source = sys.argv[1], os.path.abspath(sys.argv[2])
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
os.chdir(work)
for name in ('dicomDir', 'dirA', 'dirB'):
    shutil.copytree(source, name)

# ---- README: "A simple example reading two time series from dirA and dirB,
# and writing their mean to dirMean"
from imagedata.series import Series
a = Series('dirA', 'time')
b = Series('dirB', 'time')
assert a.shape == b.shape, "Shape of a and b differ"
# Notice how a and b are treated as numpy arrays
c = (a + b) / 2
c.write('dirMean')
print('mean of two series: {} {} -> dirMean ({} files)'.format(
    c.shape, c.input_order, sum(len(f) for _, _, f in os.walk('dirMean'))))

# ---- README: "Converting data from DICOM and back", the Python code
from imagedata.series import Series
a = Series('dicomDir')
a.write('niftiDir', formats=['nifti'])   # Explicitly select nifti as output format

# Now do your processing on Nifti data in niftiDir/, leaving the result in niftiResult/.
# (Here the processing is a copy; a new path without a suffix is one file, niftiDir.nii.gz.)
shutil.copy('niftiDir.nii.gz', 'niftiResult.nii.gz')

b = Series('niftiResult', template=a)    # Or template='dicomDir'
b.write('dicomResult')   # Here, DICOM is default output format

# Set series number and series description before transmitting to PACS using DICOM transport
b.seriesNumber = 1004
b.seriesDescription = 'Processed data'
try:
    b.write(' dicom://server:104/AETITLE')
except Exception as e:   # no DICOM network client yet (issue 17)
    print('dicom:// write: {}: {}'.format(type(e).__name__, e))
print('DICOM {} {} -> niftiDir.nii.gz -> dicomResult: patient {}, study {} kept: {}'.format(
    a.shape, a.input_order, b.patientName, b.studyInstanceUID,
    b.studyInstanceUID == a.studyInstanceUID))
