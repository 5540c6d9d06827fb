# Batch normalisation per step (docs/batchnorm.md) on pixel-by-pixel Fashion-MNIST
# (T = 784): BPTT and FPTT with and without it; mean over the seeds, band of
# one standard deviation.
load 'plots/common.gp'
set key noenhanced
f = datadir.'/batchnorm.csv'
r4 = 'bptt bptt+batch_norm fptt fptt+batch_norm'
stats f u 7 every ::1 nooutput
ns = int(STATS_max)
set xlabel 'update (batch 32)'
set ylabel 'eval accuracy on the 10 000 test images'
set title sprintf('Pixel-by-pixel Fashion-MNIST (T = 784), recurrent LTC: with and without per-step batch normalisation, %d seeds', ns)
set key top left
set yrange [0:1]
col(i) = rc(i <= 2 ? 'bptt' : 'fptt')
dash(i) = i % 2 == 0 ? 2 : 1
lab(i) = i == 1 ? 'bptt' : i == 2 ? 'bptt, batch_norm' : i == 3 ? 'fptt (28 chunks, time-weighted loss)' : 'fptt, batch_norm'
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set termoption noenhanced
  set output out('batchnorm', fmt)
  plot for [i=1:4] f u (strcol(1) eq word(r4, i) ? $2 : 1/0):($5 - $6):($5 + $6) w filledcurves lc rgb col(i) notitle, \
       for [i=1:4] f u (strcol(1) eq word(r4, i) ? $2 : 1/0):5 w lp pt (i % 2 ? 7 : 5) ps 0.6 lw 2 dt dash(i) lc rgb col(i) t lab(i), \
       0.1 w l dt 3 lc rgb 'black' t 'chance (0.1)'
  unset output
}
